"""Whole-volume inference: batched slice prediction, TTA, multi-scale, cascade crop/paste-back, post-processing."""
