package android.graphics;
import java.nio.Buffer;
public final class Bitmap {
    public enum Config { ARGB_8888 }
    public static Bitmap createBitmap(int width, int height, Config config) { throw new RuntimeException("stub"); }
    public Bitmap copy(Config config, boolean isMutable) { throw new RuntimeException("stub"); }
    public int getWidth() { return 0; }
    public int getHeight() { return 0; }
    public int getRowBytes() { return 0; }
    public void copyPixelsToBuffer(Buffer dst) {}
}
