package android.graphics;
public class Canvas {
    public Canvas(Bitmap bitmap) {}
    public void drawLines(float[] pts, int offset, int count, Paint paint) {}
    public void drawPoint(float x, float y, Paint paint) {}
}
