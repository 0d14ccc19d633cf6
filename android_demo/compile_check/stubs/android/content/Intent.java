package android.content;
import android.os.Bundle;
public class Intent {
    public Intent(Context packageContext, Class<?> cls) {}
    public Intent putExtras(Intent src) { return this; }
    public boolean getBooleanExtra(String name, boolean defaultValue) { return defaultValue; }
    public Bundle getExtras() { return null; }
}
