"""Engine version: bump when a computed number can change for the same input."""
ENGINE_VERSION = "1.1.0"  # 1.1.0: FRIEND 2017 cycle norms for cycle tests
