package android.app;
import android.content.Intent;
import android.os.Bundle;
import android.view.View;
public class Activity extends android.content.Context {
    public Intent getIntent() { throw new RuntimeException("stub"); }
    public void startActivity(Intent intent) {}
    public void finish() {}
    public final void runOnUiThread(Runnable action) {}
    public void setContentView(View view) {}
    protected void onCreate(Bundle savedInstanceState) {}
    protected void onResume() {}
    protected void onPause() {}
    protected void onDestroy() {}
}
