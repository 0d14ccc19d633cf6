package android.view;
import android.content.Context;
import android.graphics.Canvas;
public class View {
    public interface OnClickListener {
        void onClick(View v);
    }
    public View(Context context) {}
    public final int getWidth() { return 0; }
    public final int getHeight() { return 0; }
    public Display getDisplay() { return null; }
    public boolean post(Runnable action) { return true; }
    public void postInvalidateOnAnimation() {}
    public void layout(int l, int t, int r, int b) {}
    public void draw(Canvas canvas) {}
    protected void onDraw(Canvas canvas) {}
    public void setPadding(int left, int top, int right, int bottom) {}
    public void setBackgroundColor(int color) {}
    public void setOnClickListener(OnClickListener l) {}
}
