package android.view;
import android.content.Context;
public abstract class ViewGroup extends View {
    public static class LayoutParams {
        public LayoutParams(int width, int height) {}
    }
    public ViewGroup(Context context) { super(context); }
    public void addView(View child) {}
    public void addView(View child, LayoutParams params) {}
}
