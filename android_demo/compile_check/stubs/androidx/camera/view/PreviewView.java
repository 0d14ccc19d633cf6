package androidx.camera.view;
import android.content.Context;
import android.widget.FrameLayout;
import androidx.camera.core.Preview;
import androidx.camera.core.ViewPort;
public final class PreviewView extends FrameLayout {
    public enum ScaleType { FILL_START, FILL_CENTER, FILL_END, FIT_START, FIT_CENTER, FIT_END }
    public PreviewView(Context context) { super(context); }
    public ScaleType getScaleType() { return ScaleType.FILL_CENTER; }
    public void setScaleType(ScaleType scaleType) {}
    public Preview.SurfaceProvider getSurfaceProvider() { throw new RuntimeException("stub"); }
    public ViewPort getViewPort() { return null; }
}
