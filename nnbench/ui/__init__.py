"""The Qt side of nnbench: one module per panel, a worker thread, and the window."""
