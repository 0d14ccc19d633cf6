package android.content.res;
import java.io.Closeable;
import java.io.FileDescriptor;
public class AssetFileDescriptor implements Closeable {
    public FileDescriptor getFileDescriptor() { throw new RuntimeException("stub"); }
    public long getStartOffset() { return 0; }
    public long getDeclaredLength() { return 0; }
    @Override public void close() {}
}
