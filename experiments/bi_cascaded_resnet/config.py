"""Bi, Kim, Kumar, Feng, "Automatic Liver Lesion Detection using Cascaded Deep Residual Networks"
(arXiv 1704.02703, LiTS 2017): ResNet-38 as an FCN, the cascade on probability maps, multi-scale fusion.

Every value comes from the paper (`../shared/papers/bi_cascaded_resnet.md`) with its section; where the
paper is silent the choice is marked CHOICE and listed in this package's README. NOTES.md (Bi section)
settles Table 1 (ResNet-38 "Model A1" of Wu et al., public code `itijyou/ademxapp`) and its recipe.

    python -m liverseg reproduce bi_cascaded_resnet --profile cpu                          # phantom
    python -m liverseg reproduce bi_cascaded_resnet --profile paper --data-dir LITS_DIR    # GPU, LiTS
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from liverseg.config import AugmentConfig, DataConfig, PhantomConfig, RunConfig, PreprocessConfig, TrainConfig
from liverseg.config import profile_getter

# Table 2's rows, in the paper's order; the runner's default variant is the first of VARIANTS
TABLE_ORDER = ("vgg_fcn", "resnet", "cascade", "cascade_crf", "cascade_ms")
VARIANTS = ("cascade_ms", "vgg_fcn", "resnet", "cascade")
VARIANT_TITLES = {
    "vgg_fcn": "VGG-FCN", "resnet": "ResNet", "cascade": "Cascaded ResNet",
    "cascade_crf": "Cascaded ResNet (w 3D-CRF)", "cascade_ms": "Cascaded ResNet (w multi-scale fusion)",
}


@dataclass(frozen=True)
class ResLevel:
    """One group of Table 1 rows: `blocks` residual units of convolutions `widths` (two 3x3, or a
    1x1-3x3-1x1 bottleneck when three), the first unit strided by `stride`; `first_dilations` /
    `dilations` per convolution of the first / the other units; dropout before the last convolution."""

    name: str
    widths: tuple[int, ...]
    blocks: int
    stride: int = 1
    first_dilations: tuple[int, ...] = (1, 1)
    dilations: tuple[int, ...] = (1, 1)
    dropout: float = 0.0


# Table 1, with NOTES.md's level names (B2 .. B7 of ResNet-38 "Model A1")
TABLE1_LEVELS = (
    ResLevel("b2", (128, 128), 3, stride=2),  # 252 x 252: 1 strided unit + 2
    ResLevel("b3", (256, 256), 3, stride=2),  # 126 x 126: 1 strided unit + 2
    ResLevel("b4", (512, 512), 6, stride=2),  # 63 x 63: 1 strided unit + 5
    # 63 x 63: "3x3, 512 / 3x3, 1024, dilate 2" once, then twice with both convolutions dilated
    ResLevel("b5", (512, 1024), 3, first_dilations=(1, 2), dilations=(2, 2)),
    # bottlenecks to 2048 and 4096, dilation 4; NOTES.md: dropout 0.3 and 0.5 (ademxapp)
    ResLevel("b6", (512, 1024, 2048), 1, first_dilations=(1, 4, 1), dilations=(1, 4, 1), dropout=0.3),
    ResLevel("b7", (1024, 2048, 4096), 1, first_dilations=(1, 4, 1), dilations=(1, 4, 1), dropout=0.5),
)


@dataclass(frozen=True)
class BiNetConfig:
    """2.3, Table 1: ResNet-38 as an FCN at output stride 8, pre-activation residual units."""

    input_size: int = 504  # Table 1: 504 x 504 in, 63 x 63 score map
    stem_filters: int = 64  # Table 1 row 1: 3x3, 64, stride 1, no residual
    levels: tuple[ResLevel, ...] = TABLE1_LEVELS
    classifier_filters: int = 512  # Table 1: 3x3, 512, dilate 12 (+ReLU, no BN: NOTES.md)
    classifier_dilation: int = 12  # Table 1: both classifier convolutions dilate 12
    # Table 1's last row "3x3, 2": CHOICE two sigmoid channels, liver (Y^v) and lesion (Y^t), the two
    # probability maps eq. 3 feeds the cascade (one network gives both; see README)
    outputs: tuple[str, ...] = ("liver", "tumour")
    upsample: int = 8  # 2.3: the 63 x 63 score map up-sampled to the input size (bilinear, NOTES.md)
    width: float = 1.0  # multiplies every width above (short profiles only)
    # CHOICE: BatchNormalization moving-average momentum, the Keras default; short profiles 0.9 (after
    # a few hundred steps at 0.99 the moving statistics still lag the batch ones)
    bn_momentum: float = 0.99
    # CHOICE (short profiles only): the output bias starts at this probability; 0 = zero bias
    output_prior: float = 0.0
    # (i) Table 2's VGG-FCN: FCN-8s (Long et al. [5]) on keras.applications.VGG16(weights=None);
    # fc6 (7x7) and fc7 (1x1) as convolutions of this width (4096 in FCN-8s)
    vgg_fc_filters: int = 4096
    vgg_dropout: float = 0.5  # FCN-8s: dropout after fc6 and fc7


@dataclass(frozen=True)
class BiConfig(RunConfig):
    # 2.2: HU clipped to [-160, 240], then scaled to [0, 1]; 512 x 512 slices (LiTS)
    preprocess: PreprocessConfig = field(default_factory=lambda: PreprocessConfig(
        window=(-160.0, 240.0), size=512))
    net: BiNetConfig = field(default_factory=BiNetConfig)
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    train: TrainConfig = field(default_factory=TrainConfig)  # the ResNets of Table 2 (2.5)
    # the VGG-FCN: the same recipe at the paper profile; fewer steps at the cpu profile, where VGG16's
    # full widths cost it about four times a ResNet step
    vgg_train: TrainConfig = field(default_factory=TrainConfig)
    # 2.5: 60 epochs at a fixed lr 0.0016, then 40 epochs with a linear schedule from 0.0008: one stage
    # per network with the schedule "constant_then_linear" (train.step_epochs = 60, step_factor = 0.5)
    # 2.4: multi-scale testing at 512, 544, ..., 640, probabilities averaged
    test_sizes: tuple[int, ...] = (512, 544, 576, 608, 640)
    threshold: float = 0.5  # CHOICE: both sigmoid channels thresholded at 0.5, lesion inside the liver
    # 2.1: LiTS' 131 training studies split 118 / 13 (the 13 are Table 2's evaluation set).
    # CHOICE: 10 % of the 118 hold out for the checkpoint monitor (the paper keeps the last epoch); as a
    # share of all patients, as the runner's default split (not stratified) reads it
    test_patients: float = 13 / 131
    val_patients: float = 0.1 * (1 - 13 / 131)
    weights: str = ""  # --set weights=FILE: initial weights of the ResNet (ImageNet ones cannot be fetched)


def _paper() -> BiConfig:
    data = DataConfig(
        # 2.5: 8,802 slices, "4,401 slices representing both liver and liver lesions, and another
        # 4,401 slices where both liver and liver lesions were not present": lesion slices against
        # slices with neither ("liver_balanced", liver against no liver, is the other reading)
        sampling="lesion_balanced", positive_fraction=0.5, max_slices=8802,
        targets=("liver", "tumour"),
        # 2.5 "random ... crops": Table 1's 504 crops of the 512 slices, anywhere (a crop centred on the
        # slice, "other" = the background's box, jittered by the 8 spare pixels)
        crop="centred", crop_size=504, crop_target="other", crop_jitter=4,
        batch_size=10,  # 2.5: "The training image batch size was set to 10"
    )
    augment = AugmentConfig(
        # 2.5: "random scaling, crops and flips" (no values given). NOTES.md (ademxapp, the ResNet-38
        # recipe): scales 0.7 .. 1.3, which covers the multi-scale test's 512 .. 640 (x 1.25); CHOICE:
        # left-right flips
        zoom_range=0.3, horizontal_flip=True, fill_mode="constant",
    )
    train = TrainConfig(
        # 2.5: SGD; NOTES.md (ademxapp): momentum 0.9; lr 0.0016 for 60 epochs, then 40 epochs linear from
        # 0.0008 (to 0)
        epochs=100, optimizer="sgd", momentum=0.9, learning_rate=0.0016, schedule="constant_then_linear",
        step_epochs=60, step_factor=0.5, final_learning_rate=0.0,
        # NOTES.md (ademxapp): weight decay 5e-4, in SGD's gradient as MXNet applies it (SGDWithL2)
        weight_decay=5e-4,
        # 2.5: "the overall per-pixel loss": cross-entropy of both sigmoid channels
        loss="bce",
        # CHOICE: the paper keeps the last epoch of its fixed schedule; we keep the epoch of the best
        # validation mean of liver and lesion Dice (the lesion is the paper's headline; liver Dice
        # alone would pick a checkpoint blind to it)
        monitor="mean(val_liver_dice,val_tumour_dice)", monitor_mode="max",
        metrics=("liver_dice", "tumour_dice", "liver_soft_dice"),
    )
    return BiConfig(profile="paper", data=data, augment=augment, train=train, vgg_train=train,
                    phantom=PhantomConfig(cases=20, size=256, seed=0))


def _scaled_levels(levels, blocks, dilation: int):
    """Short profiles: `blocks` units per level, the dilations of B5 .. B7 capped at `dilation`."""
    return tuple(replace(lv, blocks=n, first_dilations=tuple(min(d, dilation) for d in lv.first_dilations),
                         dilations=tuple(min(d, dilation) for d in lv.dilations))
                 for lv, n in zip(levels, blocks))


def _cpu(paper: BiConfig) -> BiConfig:
    """2 CPU cores, the five rows (three trainings) in minutes on a 16-case phantom: 96 px slices with
    88 px crops, an eighth of Table 1's widths, two units per level, Adam for a few hundred steps. The score map is 12 x 12 (11 x 11 on the crops), so the dilations that span a
    63 x 63 map in the paper are scaled down: 2 in B5 .. B7 and 3 in the classifier."""
    def cpu(t: TrainConfig) -> TrainConfig:
        # CHOICE: Adam at 1e-3 (held 7 epochs, then linear from 5e-4). From He initialisation SGD
        # learns nothing in a few hundred steps: on the smoke profile the ResNet's validation liver
        # Dice stayed 0 after 48 steps with SGD at 0.01 and 0.05 and with Adam at 1e-3 (3e-3: 0.64,
        # the smoke profile's rate). At 3e-3 for 300 steps the phantom ResNet saturated to an empty
        # map in its first epoch and never recovered (liver Dice 0)
        # validation_steps 0: the whole validation side each epoch. Capped steps read its first batches,
        # and the slices come in (case, slice) order: the liver-free slices below the liver, on which
        # the smoke profile's checkpoint monitor scored Dice 1 (both empty) and kept epoch 0
        # weight decay 0: SGDWithL2's decay is SGD's (Adam would need its own, decoupled reading)
        return replace(t, epochs=12, steps_per_epoch=25, validation_steps=0, optimizer="adam",
                       learning_rate=1e-3, step_epochs=7, final_learning_rate=0.0, weight_decay=0.0)

    return replace(
        paper, profile="cpu", expected_minutes=15.0,
        preprocess=replace(paper.preprocess, size=96),
        net=replace(paper.net, input_size=88, width=0.125, classifier_dilation=3, vgg_fc_filters=128, bn_momentum=0.9,
                    levels=_scaled_levels(paper.net.levels, (2, 2, 2, 2, 1, 1), 2), output_prior=0.05),
        # validation: a seeded draw of 64 slices of the validation side, scored whole each epoch
        data=replace(paper.data, crop_size=88, batch_size=8, max_slices=0, max_val_slices=64),
        train=cpu(paper.train), vgg_train=replace(cpu(paper.train), steps_per_epoch=6),
        # the paper's 512 .. 640 (x 1.25) at 96 px, on the stride-8 grid
        test_sizes=(96, 104, 112, 120),
        test_patients=0.25, val_patients=0.15 * (1 - 0.25),  # 15 % of the patients not tested
        phantom=PhantomConfig(cases=16, size=256, seed=0),
    )


def _smoke(paper: BiConfig) -> BiConfig:
    """Seconds, for the tests: the cpu profile's code path at 48 px on an 8-case phantom."""
    cpu = _cpu(paper)
    return replace(
        cpu, profile="smoke", expected_minutes=0.0,
        preprocess=replace(cpu.preprocess, size=48),
        net=replace(cpu.net, input_size=40, width=0.0625, vgg_fc_filters=32,
                    levels=_scaled_levels(cpu.net.levels, (1, 1, 1, 1, 1, 1), 2)),
        data=replace(cpu.data, crop_size=40, max_val_slices=0),
        # Adam at 3e-3: 48 steps at 1e-3 learn no liver (see _cpu)
        train=replace(cpu.train, epochs=6, steps_per_epoch=8, step_epochs=4, learning_rate=3e-3),
        vgg_train=replace(cpu.train, epochs=6, steps_per_epoch=8, step_epochs=4, learning_rate=3e-3),
        test_sizes=(48, 56),
        test_patients=0.3, val_patients=0.2 * (1 - 0.3),
        phantom=PhantomConfig(cases=8, size=128, seed=0),
    )


get_config = profile_getter(_paper, _cpu, _smoke)
