package android.graphics;
public class Paint {
    public enum Style { FILL, STROKE, FILL_AND_STROKE }
    public enum Cap { BUTT, ROUND, SQUARE }
    public Paint() {}
    public Paint(Paint paint) {}
    public int getColor() { return 0; }
    public void setColor(int color) {}
    public float getStrokeWidth() { return 0; }
    public void setStrokeWidth(float width) {}
    public Style getStyle() { return null; }
    public void setStyle(Style style) {}
    public final boolean isAntiAlias() { return false; }
    public void setAntiAlias(boolean aa) {}
    public Cap getStrokeCap() { return null; }
    public void setStrokeCap(Cap cap) {}
    public int getAlpha() { return 0; }
    public void setAlpha(int a) {}
}
