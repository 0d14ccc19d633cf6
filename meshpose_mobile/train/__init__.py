"""Training: config, data, metrics, the loop behind `meshpose-train`, and the upsampler trainer."""
