package android.graphics;
public class Color {
    public static final int WHITE = 0xFFFFFFFF;
    public static int argb(int alpha, int red, int green, int blue) { return 0; }
}
