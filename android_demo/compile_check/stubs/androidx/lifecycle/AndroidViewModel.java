package androidx.lifecycle;
import android.app.Application;
public class AndroidViewModel extends ViewModel {
    public AndroidViewModel(Application application) {}
    public <T extends Application> T getApplication() { throw new RuntimeException("stub"); }
}
