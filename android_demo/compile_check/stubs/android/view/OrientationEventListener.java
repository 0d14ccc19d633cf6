package android.view;
import android.content.Context;
public abstract class OrientationEventListener {
    public static final int ORIENTATION_UNKNOWN = -1;
    public OrientationEventListener(Context context) {}
    public OrientationEventListener(Context context, int rate) {}
    public void enable() {}
    public void disable() {}
    public boolean canDetectOrientation() { return false; }
    public abstract void onOrientationChanged(int orientation);
}
