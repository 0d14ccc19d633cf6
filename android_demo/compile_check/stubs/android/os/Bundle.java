package android.os;
public final class Bundle {
    public Bundle() {}
    public int getInt(String key, int defaultValue) { return defaultValue; }
    public String getString(String key) { return null; }
}
