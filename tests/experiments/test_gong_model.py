"""The paper profile's networks, inspected without training; a smoke model's .keras round trip."""
import keras
import numpy as np
import pytest

from experiments.gong.config import get_config
from experiments.gong.model import build_models


def _layers(model, kind):
    return [layer for layer in model.layers if isinstance(layer, kind)]


@pytest.fixture(scope="module")
def paper_models():
    return build_models(get_config("paper"))


def test_coarse_is_a_512_unet_with_four_poolings_64_to_512(paper_models):
    coarse = paper_models["coarse"]
    assert coarse.input_shape == (None, 512, 512, 1)
    assert coarse.output_shape == (None, 512, 512, 2)
    assert len(_layers(coarse, keras.layers.MaxPooling2D)) == 4
    convs = _layers(coarse, keras.layers.Conv2D)
    assert {c.kernel_size for c in convs if "_c1_" in c.name or "_c2_" in c.name} == {(3, 3)}
    widths = sorted({c.filters for c in convs})
    assert widths[-1] == 512 and 64 in widths
    assert all(c.padding == "same" for c in convs if c.kernel_size == (3, 3))


def test_fine_has_7x7_stem_three_poolings_and_fusion(paper_models):
    fine = paper_models["fine"]
    assert fine.input_shape == (None, 256, 256, 1)
    assert fine.output_shape == (None, 256, 256, 1)
    stem = fine.get_layer("fine_stem_conv")
    assert stem.kernel_size == (7, 7)
    encoder_pools = [p for p in _layers(fine, keras.layers.MaxPooling2D) if p.name.startswith("fine_pool")]
    assert len(encoder_pools) == 3
    fusions = [layer for layer in fine.layers if "fuse" in layer.name and isinstance(layer, keras.layers.Concatenate)]
    assert len(fusions) == 4  # one multi-scale fusion per scale


def test_outputs_stay_float32_under_mixed_precision():
    """Losses must see float32 probabilities when the network computes in float16."""
    before = keras.mixed_precision.global_policy()
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        models = build_models(get_config("smoke"))
    finally:
        keras.mixed_precision.set_global_policy(before)
    for name, model in models.items():
        inner = [layer for layer in model.layers if isinstance(layer, keras.layers.Conv2D)]
        assert inner[0].compute_dtype == "float16", name
        x = np.zeros((1, *model.input_shape[1:]), np.float32)
        assert keras.ops.convert_to_numpy(model(x, training=False)).dtype == np.float32, name


def test_smoke_models_round_trip_through_keras_files(tmp_path):
    models = build_models(get_config("smoke"))
    for name, model in models.items():
        x = np.random.default_rng(0).random((2, *model.input_shape[1:]), dtype=np.float32)
        path = tmp_path / f"{name}.keras"
        model.save(path)
        again = keras.saving.load_model(path, safe_mode=True, compile=False)
        np.testing.assert_allclose(model(x, training=False), again(x, training=False), rtol=1e-5, atol=1e-6)
