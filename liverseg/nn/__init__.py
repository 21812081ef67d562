"""Keras building blocks, model builders several papers share, losses and in-graph metrics (keras.ops only: any backend)."""
