package androidx.camera.core;
import android.graphics.Rect;
import java.nio.ByteBuffer;
public interface ImageProxy extends AutoCloseable {
    interface PlaneProxy {
        int getRowStride();
        int getPixelStride();
        ByteBuffer getBuffer();
    }
    @Override void close();
    Rect getCropRect();
    PlaneProxy[] getPlanes();
    ImageInfo getImageInfo();
}
