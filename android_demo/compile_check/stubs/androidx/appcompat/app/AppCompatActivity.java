package androidx.appcompat.app;
// The real chain is AppCompatActivity -> FragmentActivity -> ComponentActivity -> ... -> Activity.
public class AppCompatActivity extends androidx.activity.ComponentActivity {}
