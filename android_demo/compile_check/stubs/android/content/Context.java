package android.content;
import android.content.res.AssetManager;
import java.io.File;
public abstract class Context {
    public AssetManager getAssets() { throw new RuntimeException("stub"); }
    public <T> T getSystemService(Class<T> serviceClass) { throw new RuntimeException("stub"); }
    public File getExternalFilesDir(String type) { throw new RuntimeException("stub"); }
    public File getFilesDir() { throw new RuntimeException("stub"); }
}
