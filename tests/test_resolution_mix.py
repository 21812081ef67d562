"""`liverseg.nn.resolution.at_lower_resolution` and `liverseg.data.sampling.tumour_mix`."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from liverseg.config import DataConfig
from liverseg.errors import OptionError


def _identity(size):
    import keras

    x = keras.Input((size, size, 1))
    return keras.Model(x, keras.layers.Identity()(x), name="net")


def test_lower_resolution_network_sees_the_area_mean_and_answers_at_full_size():
    from liverseg.nn.resolution import at_lower_resolution

    model = at_lower_resolution(_identity, 8, 2)
    assert tuple(model.get_layer("net").inputs[0].shape[1:3]) == (4, 4)
    x = np.zeros((1, 8, 8, 1), np.float32)
    x[0, :, :4, 0] = 1.0  # left half 1: two columns of 1 at the inner resolution
    x[0, 0, 0, 0] = 0.2  # a pixel the pooling averages with three others
    y = np.asarray(model(x))[0, ..., 0]
    assert y.shape == (8, 8)
    np.testing.assert_allclose(y[4:, :2], 1.0, atol=1e-6)  # away from the 0.2 pixel: the left value
    np.testing.assert_allclose(y[:, 6:], 0.0, atol=1e-6)  # and the right one
    assert y[0, 0] == pytest.approx(0.8, abs=1e-6)  # (0.2 + 3) / 4, up-sampled at the corner
    assert np.all(np.diff(y[4], axis=0) <= 1e-6)  # a monotone step between them


def test_factor_one_is_the_network_itself_and_a_bad_factor_is_refused():
    from liverseg.nn.resolution import at_lower_resolution

    assert at_lower_resolution(_identity, 8, 1).name == "net"
    with pytest.raises(OptionError):
        at_lower_resolution(_identity, 10, 4)


def test_tumour_mix_adds_a_tumour_source_with_the_share_as_its_weight():
    from liverseg.data.sampling import select_slices, tumour_mix

    cfg = DataConfig(sampling="liver_balanced", positive_fraction=0.8)
    assert tumour_mix(cfg, 0.0) == ((cfg,), ())
    sources, weights = tumour_mix(cfg, 0.4)
    assert [s.sampling for s in sources] == ["liver_balanced", "tumour"] and weights == (0.6, 0.4)
    manifest = pd.DataFrame({"case_id": ["a"] * 10, "slice_index": range(10),
                             "liver_pixels": [0, 0, 5, 5, 5, 5, 5, 5, 0, 0],
                             "tumour_pixels": [0, 0, 0, 0, 2, 3, 0, 0, 0, 0]})
    rows = select_slices(manifest, ["a"], sources[1], seed=0)
    assert list(rows["slice_index"]) == [4, 5]
    with pytest.raises(OptionError):
        tumour_mix(cfg, 1.0)


def test_gong_coarse_options_reach_the_model_and_the_stage():
    from dataclasses import replace

    from experiments.gong.config import get_config
    from experiments.gong.model import build_coarse
    from experiments.gong.stages import stages

    cfg = get_config("smoke")
    plain = {s.name: s for s in stages(cfg)}["coarse"]
    assert len(plain.sources) == 1 and build_coarse(cfg.coarse_model, 64).name == "coarse"
    cfg = replace(cfg, coarse_model=replace(cfg.coarse_model, downsample=2), coarse_tumour_share=0.5)
    coarse = {s.name: s for s in stages(cfg)}["coarse"]
    assert [s.sampling for s in coarse.sources] == [cfg.coarse_data.sampling, "tumour"] and coarse.weights == (0.5, 0.5)
    model = build_coarse(cfg.coarse_model, 64)
    assert model.name == "coarse" and tuple(model.input_shape[1:]) == (64, 64, 1)
    assert tuple(model.output_shape[1:]) == (64, 64, 2)
    assert tuple(model.get_layer("coarse_unet").input_shape[1:3]) == (32, 32)
