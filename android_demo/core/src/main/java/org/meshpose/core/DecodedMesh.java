package org.meshpose.core;

/** The model's mesh in image pixels: what the overlay draws and the tracker follows. */
public final class DecodedMesh {
    /** Flat (K, 3): x, y in upright image pixels, z relative depth in the same pixel scale. */
    public final double[] xyz;
    /** (K) in [0, 1]. */
    public final double[] visibility;
    /** Upright image pixels -> crop pixels of the frame this mesh came from. */
    public final Affine imageToCrop;

    public DecodedMesh(double[] xyz, double[] visibility, Affine imageToCrop) {
        this.xyz = xyz;
        this.visibility = visibility;
        this.imageToCrop = imageToCrop;
    }

    public int numVertices() {
        return visibility.length;
    }

    /** Flat (K, 2) x, y. */
    public double[] xy() {
        double[] out = new double[numVertices() * 2];
        for (int i = 0; i < numVertices(); i++) {
            out[2 * i] = xyz[3 * i];
            out[2 * i + 1] = xyz[3 * i + 1];
        }
        return out;
    }
}
