"""liverseg: shared Keras 3 library for reproducing liver / liver-tumour CT segmentation papers."""

__version__ = "0.1.0"
