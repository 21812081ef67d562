"""The baseline's settings. R = Ronneberger, Fischer, Brox, "U-Net", MICCAI 2015; I = Isensee et al.,
"nnU-Net", Nature Methods 18 (2021), Methods and Supplementary Note 2 (the fixed and rule-based
parameters). CHOICE marks what neither fixes for this task (listed in README)."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from liverseg.config import AugmentConfig, DataConfig, PhantomConfig, PreprocessConfig, RunConfig, TrainConfig
from liverseg.config import profile_getter


@dataclass(frozen=True)
class NetConfig:
    base_filters: int = 32  # I: 32 feature maps at the highest resolution
    max_filters: int = 512  # I: capped at 512 in 2D
    depth: int = 7  # I: pool until the feature map is 4 px: 512 -> 4 is seven poolings
    dropout: float = 0.0  # I: no dropout (R's dropout is not used)
    bn_momentum: float = 0.99  # CHOICE: BatchNorm (I uses instance norm); Keras' momentum


@dataclass(frozen=True)
class BaselineConfig(RunConfig):
    # CHOICE: HU window -100..200 scaled to [0, 1] (I clips to the foreground's 0.5 / 99.5 percentiles
    # and z-scores; on LiTS those are about -20 and 200 HU)
    preprocess: PreprocessConfig = field(default_factory=lambda: PreprocessConfig(window=(-100.0, 200.0), size=512))
    net: NetConfig = field(default_factory=NetConfig)
    # I: a third of the samples forced to hold foreground; CHOICE: whole slices, a third with tumour
    data: DataConfig = field(default_factory=lambda: DataConfig(sampling="balanced", positive_fraction=0.33,
                                                                batch_size=12))  # CHOICE: batch 12
    # I: rotation, scaling 0.7-1.4, mirroring (and intensity transforms not reproduced here)
    augment: AugmentConfig = field(default_factory=lambda: AugmentConfig(
        rotation_range=180.0, zoom_range=(0.7, 1.4), horizontal_flip=True, vertical_flip=True))
    # I: SGD, Nesterov momentum 0.99, lr 0.01, poly decay (power 0.9), 1000 epochs of 250 steps, Dice + CE
    train: TrainConfig = field(default_factory=lambda: TrainConfig(
        optimizer="sgd_nesterov", momentum=0.99, learning_rate=0.01, schedule="poly", epochs=1000,
        steps_per_epoch=250, validation_steps=50, loss="dice_bce", metrics=("soft_dice", "liver_dice", "tumour_dice"),
        monitor="val_soft_dice", precision="auto"))
    outputs: tuple[str, ...] = ("liver", "tumour")  # two sigmoid channels (I's region-based training)
    threshold: float = 0.5
    val_patients: float = 0.1  # CHOICE: one seeded split, 70 / 10 / 20 % of the patients
    test_patients: float = 0.2


def _cpu(paper: BaselineConfig) -> BaselineConfig:
    """2 CPU cores in minutes on the 16-case phantom: 128 px, 8 filters, four poolings; Adam at 1e-3
    (CHOICE: SGD at momentum 0.99 needs far more than a few hundred steps), light augmentation."""
    return replace(
        paper, profile="cpu", expected_minutes=10.0,
        preprocess=replace(paper.preprocess, size=128),
        net=replace(paper.net, base_filters=8, max_filters=64, depth=4, bn_momentum=0.9),
        data=replace(paper.data, batch_size=8),
        augment=AugmentConfig(rotation_range=10.0, zoom_range=0.1),
        train=replace(paper.train, optimizer="adam", momentum=0.0, learning_rate=1e-3, epochs=12,
                      steps_per_epoch=24, validation_steps=4),
        val_patients=0.15, test_patients=0.25, phantom=PhantomConfig(cases=16, size=256, seed=0),
    )


def _smoke(paper: BaselineConfig) -> BaselineConfig:
    """Seconds, for the tests: the cpu path at 64 px on an 8-case phantom, 72 steps at lr 3e-3 (at 1e-3
    the test liver Dice was 0.14 after those steps, at 3e-3 0.67-0.86 over seeds)."""
    cpu = _cpu(paper)
    return replace(cpu, profile="smoke", expected_minutes=0.0, preprocess=replace(cpu.preprocess, size=64),
                   net=replace(cpu.net, depth=3),
                   train=replace(cpu.train, epochs=6, steps_per_epoch=12, learning_rate=3e-3),
                   val_patients=0.2, test_patients=0.3, phantom=PhantomConfig(cases=8, size=128, seed=0))


get_config = profile_getter(lambda: BaselineConfig(), _cpu, _smoke)
