"""Engine version: bump when a computed number can change for the same input."""
ENGINE_VERSION = "1.0.0"
