"""nnbench: a desktop experiment bench for small neural networks."""

__version__ = "0.1.0"
