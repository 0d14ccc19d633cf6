package android.graphics;
public final class Rect {
    public int left, top, right, bottom;
    public final int width() { return right - left; }
    public final int height() { return bottom - top; }
}
