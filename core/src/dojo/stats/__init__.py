"""Statistics: per-behavior reporters and the writers (TensorBoard, console, gauges)."""
