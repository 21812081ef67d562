"""Whole-volume prediction in bounded memory: `resize_probs` never copies the whole volume's planes,
and `SlicePredictor` (Li, Liu, Bi) runs its network `chunk` slices at a time with the result of one
whole-volume call (benchmarks/paper_scale.py measures the paper-size figures)."""
from __future__ import annotations

import tracemalloc
from types import SimpleNamespace

import cv2
import numpy as np

from liverseg.config import PreprocessConfig
from liverseg.data.preprocess import preprocess_slices
from liverseg.infer.predict import resize_probs
from liverseg.infer.slice_predictor import SlicePredictor


def test_resize_probs_holds_no_transposed_copy_of_the_volume():
    # many slices resized down (Bi's 640 px scale back to 512, a network's output to a smaller CT)
    probs = np.random.default_rng(0).random((1024, 32, 32, 2), dtype=np.float32)
    out_bytes = 1024 * 16 * 16 * 2 * 4
    tracemalloc.start()
    try:
        out = resize_probs(probs, 16, 16)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # the output plus one group of planes; the old code also held a contiguous copy of all N*K planes
    assert peak < out_bytes + probs.nbytes // 2, (peak, out_bytes, probs.nbytes)
    assert out.shape == (1024, 16, 16, 2) and out.flags.c_contiguous
    expected = cv2.resize(np.ascontiguousarray(probs[137, :, :, 1]), (16, 16), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(out[137, :, :, 1], expected, rtol=0, atol=1e-6)


def test_resize_probs_more_channels_than_one_cv2_call():
    probs = np.random.default_rng(1).random((3, 8, 8, 130), dtype=np.float32)
    out = resize_probs(probs, 16, 12)
    expected = cv2.resize(np.ascontiguousarray(probs[2, :, :, 129]), (12, 16), interpolation=cv2.INTER_LINEAR)
    np.testing.assert_allclose(out[2, :, :, 129], expected, rtol=0, atol=1e-6)


class _Recorder(SlicePredictor):
    """Slice-wise 'network': the two channels are the slice and its square; records each call's size."""

    def probabilities(self, slices):
        self.calls.append(len(slices))
        return np.stack([slices, slices ** 2], axis=-1)

    def labels(self, probs):
        return (probs[..., 0] > 0.5).astype(np.uint8) + (probs[..., 1] > 0.8)


def _predictor(chunk):
    p = _Recorder(SimpleNamespace(preprocess=PreprocessConfig(window=(-100.0, 200.0), size=16)), None, "v",
                  chunk=chunk)
    p.calls = []
    return p


def test_slice_predictor_predicts_in_chunks_with_the_whole_volume_result():
    hu = np.random.default_rng(2).uniform(-200, 300, (24, 20, 21)).astype(np.float32)
    chunked, whole = _predictor(8), _predictor(1000)
    a, b = chunked(SimpleNamespace(array=hu)), whole(SimpleNamespace(array=hu))
    assert chunked.calls == [8, 8, 5] and whole.calls == [21]
    np.testing.assert_array_equal(a.labels, b.labels)
    assert a.labels.shape == hu.shape
    probs = chunked.volume_probabilities(hu)
    np.testing.assert_allclose(probs, resize_probs(np.stack([s := preprocess_slices(hu, chunked.cfg.preprocess),
                                                             s ** 2], axis=-1), 24, 20), atol=1e-6)
