package android.widget;
import android.content.Context;
import android.view.View;
public class TextView extends View {
    public TextView(Context context) { super(context); }
    public CharSequence getText() { return ""; }
    public final void setText(CharSequence text) {}
    public final void append(CharSequence text) {}
    public void setTextColor(int color) {}
    public float getTextSize() { return 0f; }
    public void setTextSize(float size) {}
}
