"""Frozen configuration dataclasses shared by every paper, with `--set` overrides and a JSON round trip.

A paper's `experiments/<paper>/config.py` fills these with the paper's values (each citing its
section); profiles (`paper`, `cpu`, `smoke`) change sizes and epochs, never the code path.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import typing
from dataclasses import dataclass, field

from liverseg.errors import OptionError


@dataclass(frozen=True)
class PreprocessConfig:
    """Per-slice intensity recipe applied by `liverseg.data.preprocess` before the slice cache."""

    window: tuple[float, float] = (-100.0, 200.0)  # HU clipped to [lo, hi], then scaled to [0, 1]
    denoise: str = "none"  # "none" | "median" | "bilateral"
    denoise_size: int = 3  # median kernel / bilateral diameter in pixels
    smooth_sigma: float = 0.0  # Gaussian smoothing sigma in pixels (0 = off)
    equalize: str = "none"  # "none" | "global" (histogram equalisation) | "clahe"
    size: int = 512  # in-plane size of the cached slices (square)


@dataclass(frozen=True)
class AugmentConfig:
    """ImageDataGenerator-compatible parameters (same names and meanings as Keras 2)."""

    rotation_range: float = 0.0  # degrees
    width_shift_range: float = 0.0  # fraction of width
    height_shift_range: float = 0.0  # fraction of height
    shear_range: float = 0.0  # shear angle in degrees (counter-clockwise)
    zoom_range: float | tuple[float, float] = 0.0  # float z -> [1 - z, 1 + z]
    horizontal_flip: bool = False
    vertical_flip: bool = False
    fill_mode: str = "nearest"  # "constant" | "nearest" | "reflect" | "wrap"
    cval: float = 0.0

    @property
    def enabled(self) -> bool:
        zoom = tuple(self.zoom_range) if isinstance(self.zoom_range, (tuple, list)) else (self.zoom_range,)
        zoom_on = zoom != (1.0, 1.0) if len(zoom) == 2 else bool(zoom[0])
        return bool(
            self.rotation_range or self.width_shift_range or self.height_shift_range
            or self.shear_range or zoom_on or self.horizontal_flip or self.vertical_flip
        )


@dataclass(frozen=True)
class DataConfig:
    """How slices are drawn from the cache and turned into batches."""

    sampling: str = "liver"  # a policy of liverseg.data.sampling.POLICIES
    positive_fraction: float = 0.5  # for "balanced": share of tumour-containing slices
    context: int = 0  # 2.5D: neighbouring slices on each side stacked as channels
    # output channels: "liver" label>=1, "tumour" label==2, "liver_only" label==1, "other" label==0
    targets: tuple[str, ...] = ("liver", "tumour")
    crop: str = "none"  # "none" | "tiles" | "centred"
    crop_size: int = 0  # tile / crop edge in pixels (0 = no crop)
    crop_target: str = "tumour"  # for "centred" and tile filtering: "liver" | "tumour"
    crop_jitter: int = 0  # random shift of a centred crop, pixels
    batch_size: int = 8
    # at most this many slices (seeded draw, 0 = all) on the training / validation side of a stage
    max_slices: int = 0
    max_val_slices: int = 0
    val_fraction: float = 0.2
    test_fraction: float = 0.0
    split_seed: int = 0
    shuffle_buffer: int = 256


@dataclass(frozen=True)
class TrainConfig:
    """One training stage: optimiser, schedule, epochs, checkpoint monitor."""

    epochs: int = 1
    learning_rate: float = 1e-4
    optimizer: str = "adam"  # "adam" | "sgd" | "sgd_nesterov" | "adagrad"
    momentum: float = 0.0
    weight_decay: float = 0.0  # L2 decay in SGD's gradient (liverseg.train.optimizers.SGDWithL2)
    schedule: str = "constant"  # "constant" | "step" | "linear" | "poly" | "constant_then_linear" | "plateau"
    step_epochs: int = 0  # "step": decay every N epochs
    step_factor: float = 0.1  # "step" / "plateau" factor
    final_learning_rate: float = 0.0  # "linear": value reached at the last epoch
    plateau_patience: int = 5
    early_stopping_patience: int = 0  # 0 = off
    steps_per_epoch: int = 0  # 0 = one pass over the data
    validation_steps: int = 0  # 0 = one pass over the validation data
    monitor: str = "val_dice"
    monitor_mode: str = "max"
    precision: str = "auto"  # "auto" | "float32" | "mixed_float16" | "mixed_bfloat16"
    loss: str = "dice_bce"  # a name of `liverseg.nn.objectives.LOSSES`
    # names of `liverseg.nn.objectives.make_metrics`: dice, soft_dice, iou, <target>_dice, <target>_soft_dice
    metrics: tuple[str, ...] = ("dice",)


def to_dict(cfg) -> dict:
    """Plain JSON-able dict of a (nested) config dataclass."""
    return json.loads(json.dumps(dataclasses.asdict(cfg)))


def _coerce(tp, value):
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], v) for v in value)
        return tuple(_coerce(a, v) for a, v in zip(args, value))
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        if isinstance(value, list):
            return tuple(value)
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def from_dict(cls, data: dict):
    """Inverse of `to_dict`; unknown keys are an error."""
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = set(data) - names
    if unknown:
        raise OptionError(f"{cls.__name__}: unknown option(s) {', '.join(sorted(unknown))}")
    return cls(**{k: _coerce(hints[k], v) for k, v in data.items()})


def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def override(cfg, assignments: list[str] | tuple[str, ...]):
    """Apply `a.b.c=value` overrides (values parsed as JSON when possible) to a nested dataclass."""
    data = to_dict(cfg)
    for item in assignments or ():
        if "=" not in item:
            raise OptionError(f"--set {item!r}: expected KEY=VALUE")
        key, raw = item.split("=", 1)
        node = data
        parts = key.strip().split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                raise OptionError(f"--set {key}: unknown option")
            node = node[part]
        if parts[-1] not in node:
            raise OptionError(f"--set {key}: unknown option")
        node[parts[-1]] = _parse_value(raw)
    return from_dict(type(cfg), data)


def config_hash(cfg) -> str:
    """Short stable hash of a config's JSON form (used to key caches by recipe)."""
    blob = json.dumps(to_dict(cfg), sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:12]




@dataclass(frozen=True)
class PhantomConfig:
    """The synthetic CT phantom a profile runs on when no dataset is given (`data_prep.phantom`)."""

    cases: int = 16
    size: int = 256  # in-plane pixels of the written volumes (the cache resizes to preprocess.size)
    seed: int = 0  # the phantom is fixed; --seed changes training only


PROFILES = ("paper", "cpu", "smoke")


@dataclass(frozen=True)
class RunConfig:
    """The envelope of every paper's config: which profile and seed, which data. A paper's config
    class derives from it and adds its own settings (all with defaults)."""

    profile: str = "paper"  # one of PROFILES
    seed: int = 0
    phantom: PhantomConfig = field(default_factory=PhantomConfig)
    dataset: str = "phantom"  # "phantom" | "lits" | "msd" | "ircadb" (set from --data-dir / --dataset)
    data_dir: str = ""  # source folder of a real dataset ("" = the phantom)
    # wall clock of the profile on 2 CPU cores without AVX-512 (0 = not meant for a CPU)
    expected_minutes: float = 0.0
    # K >= 2: `reproduce` cross-validates by patient, one run per fold (`liverseg.runner.folds`; `--folds K`
    # sets it); 0: one run on the paper's split
    folds: int = 0


def profile_getter(paper, cpu, smoke):
    """`get_config(profile)` of a paper package from its three builders: `paper()` (the paper's
    settings), `cpu(paper_cfg)` (2 CPU cores) and `smoke(paper_cfg)` (seconds, for the tests)."""
    builders = {"paper": paper, "cpu": lambda: cpu(paper()), "smoke": lambda: smoke(paper())}

    def get_config(profile: str = "paper"):
        """Resolved config of a profile: `paper` (the paper's settings), `cpu` (2 CPU cores), `smoke` (tests)."""
        if profile not in builders:
            raise OptionError(f"unknown profile {profile!r}; choose one of {', '.join(PROFILES)}")
        return builders[profile]()

    return get_config


__all__ = [
    "PROFILES", "RunConfig", "profile_getter", "PreprocessConfig", "AugmentConfig", "DataConfig", "TrainConfig", "PhantomConfig",
    "to_dict", "from_dict", "override", "config_hash", "field",
]
