package com.google.mediapipe.tasks.components.containers;
public abstract class Category {
    public abstract float score();
    public abstract String categoryName();
}
