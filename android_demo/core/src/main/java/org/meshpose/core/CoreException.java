package org.meshpose.core;

/**
 * A bad input the app should report, not crash on. {@link #kind()} is the error kind the golden
 * vectors name (golden/README.md), e.g. {@code invalid_box}, {@code not_a_sidecar}.
 */
public final class CoreException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;
    private final String kind;

    public CoreException(String kind, String message) {
        super(message);
        this.kind = kind;
    }

    public String kind() {
        return kind;
    }
}
