"""Gruber et al., "A Joint Deep Learning Approach for Automated Liver and Tumor Segmentation".

Every value comes from the paper (`../shared/papers/gruber_joint_sequential.md`) with its section;
where the paper is silent the choice is marked CHOICE and listed in this package's README.

    python -m liverseg reproduce gruber --profile cpu                          # phantom, 2 CPU cores
    python -m liverseg reproduce gruber --profile paper --data-dir LITS_DIR    # GPU, LiTS
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from liverseg.config import DataConfig, PhantomConfig, RunConfig, PreprocessConfig, TrainConfig
from liverseg.config import profile_getter


@dataclass(frozen=True)
class GruberUNetConfig:
    """2.2: "an initial convolution layer ... a sequence of convolution blocks at decreasing
    resolutions ... skip connections"; depth and widths are not in the paper."""

    base_filters: int = 32  # CHOICE: the first 3x3 conv of Vorontsov et al. [3] (NOTES.md); doubling per level
    depth: int = 4  # CHOICE: four poolings (512 -> 32 at the bottom), as Ronneberger's U-Net [1]
    decoder_dropout: float = 0.4  # 2.4: "a dropout of 0.4 in the upsampling path"
    # CHOICE: the classifier's bias starts at this foreground probability (Lin et al. 2017's prior
    # initialisation) instead of 0.5: cross-entropy then skips its first phase of fitting the class
    # prior (on the cpu profile: loss 0.41 -> 0.07 after 120 steps, liver Dice 0.61 -> 0.68)
    output_prior: float = 0.01
    # CHOICE: BatchNormalization's moving-average momentum (Keras default 0.99). Short profiles use
    # 0.9: after ~100 steps at 0.99 the moving statistics are a third short of the batch ones, and
    # B, which sees mostly masked-out zeros, then predicted nothing in inference mode (probability
    # 0.004 on tumour pixels) while it fitted its training batches (Dice 0.8)
    bn_momentum: float = 0.99
    batch_norm: bool = True  # CHOICE: BatchNormalization after each convolution (the paper names none)


@dataclass(frozen=True)
class GruberConfig(RunConfig):
    # 3.1: "standardized to have intensity values between [0, 1]". CHOICE: HU clipped to
    # [-200, 300] first (fat, liver, contrast vessels and lesions inside; bone and air saturate)
    preprocess: PreprocessConfig = field(default_factory=lambda: PreprocessConfig(window=(-200.0, 300.0), size=512))
    # 2.3: w, the window applied to the masked image M(X) X. CHOICE: the liver window of Christ et al. [2]
    tumour_window_hu: tuple[float, float] = (-100.0, 200.0)
    unet: GruberUNetConfig = field(default_factory=GruberUNetConfig)
    # 3.1: 765 training / 50 validation / 50 test slices. CHOICE: drawn from patients kept apart
    # (the paper splits slices; neighbouring slices of one patient on both sides would leak)
    data: DataConfig = field(default_factory=DataConfig)
    # what U-Net B's stages see; the paper profile: `data` (the same 765 slices as every network)
    tumour_data: DataConfig = field(default_factory=DataConfig)
    val_patients: float = 0.1  # CHOICE: share of the patients for validation (the 50 validation slices)
    test_patients: float = 0.2  # CHOICE: share for test (the 50 test slices and the whole-volume scores)
    table_slices: int = 50  # 3.1: 50 test slices (and 50 validation slices for the tumour threshold)
    onestep_train: TrainConfig = field(default_factory=TrainConfig)  # 2.4: 50 epochs cross-entropy
    onestep_balanced_train: TrainConfig = field(default_factory=TrainConfig)  # 2.4: 30 epochs, eq. 2.4 weights
    liver_train: TrainConfig = field(default_factory=TrainConfig)  # U-Net A
    tumour_train: TrainConfig = field(default_factory=TrainConfig)  # U-Net B, cross-entropy
    tumour_finetune_train: TrainConfig = field(default_factory=TrainConfig)  # B, eq. 2.2 per alpha
    joint_train: TrainConfig = field(default_factory=TrainConfig)  # A and B together, eq. 2.1
    # 3.2.1 / Fig. 3.4 / Table 1: alpha of eq. 2.2, and the balanced alpha_k of eq. 2.3 under both
    # readings, each a Table 1 row. Eq. 2.2 / 2.3 as printed contradict the text (NOTES.md):
    # - "balanced" (the text's reading, the default): background weight = the slice's tumour
    #   fraction, tumour weight = 1 - fraction, so that the rarer class weighs more, as eq. 2.4's
    #   weights do and as the text says ("setting the importance of the background pixels lower"
    #   helps). A slice without tumour then has weight 0 everywhere: it adds no loss.
    # - "balanced_printed" (eq. 2.2 + 2.3 as printed): background weight 1 - fraction, tumour
    #   weight = the fraction (about 0.01): tumour-free slices keep full background weight, and a
    #   missed tumour pixel costs about a hundredth of a false positive.
    # Both count the fraction on B_k, the tumour mask (eq. 2.3), not on the masked target M B_k.
    alphas: tuple[float | str, ...] = (0.02, 0.05, 0.30, "balanced", "balanced_printed")
    # 2.3 / Table 1 boxed row: "The best results for both models are achieved by applying balanced
    # loss": the sequential model of `liverseg predict` and of the volume scores uses that B
    default_alpha: str | float = "balanced"
    liver_threshold: float = 0.5  # 2.3: t_a. CHOICE: 0.5 (the paper gives no value)
    # 2.1 eq. (2.1): c weighs liver against tumour. CHOICE: 0.5 (not given; the joint training is
    # the paper's future work)
    joint_c: float = 0.5
    # CHOICE: how the tumour loss reaches U-Net A through the mask M(X): "hard" (no gradient),
    # "soft" (M = probability) or "straight_through" (hard forward, soft gradient; default, so that
    # training and inference use the same hard mask of 2.3 while both terms train A)
    joint_gradient: str = "straight_through"
    # CHOICE: the tumour threshold of each B is the Youden's J optimum of its restricted ROC
    # (0.01 < p < 0.99, 3.2.1) on the validation slices; 3.2.1 "ROC analysis to find the threshold"
    tumour_threshold: str = "youden"


# Metrics logged per stage (for the curves; the checkpoint is picked on the validation loss)
_ONESTEP_METRICS = ("tumour_dice", "liver_only_dice")
_SEQUENTIAL_METRICS = ("liver_dice", "tumour_dice", "tumour_soft_dice")


def _sgd(epochs: int, lr: float, metrics=_SEQUENTIAL_METRICS) -> TrainConfig:
    # 2.4: "stochastic gradient descent with momentum"; CHOICE: momentum 0.9. The loss of each stage
    # is set in stages.py (eq. 2.1-2.4). CHOICE: the checkpoint of a stage is the epoch with the
    # lowest validation loss (the paper gives no selection rule)
    return TrainConfig(epochs=epochs, learning_rate=lr, optimizer="sgd", momentum=0.9, loss="bce",
                       monitor="val_loss", monitor_mode="min", metrics=metrics)


def _paper() -> GruberConfig:
    data = DataConfig(
        # CHOICE: 80 % slices with liver, 20 % without, so that whole-volume inference meets
        # liver-free slices it was trained on (the paper works on slices; Gong's experience here)
        sampling="liver_balanced", positive_fraction=0.8,
        max_slices=765, max_val_slices=50,  # 3.1
        batch_size=8,  # CHOICE: not given; fits a 16 GB GPU at 512 x 512
    )
    return GruberConfig(
        profile="paper", data=data, tumour_data=data,
        onestep_train=_sgd(50, 1e-3, _ONESTEP_METRICS),  # 2.4: 50 epochs categorical cross-entropy, lr 0.001
        onestep_balanced_train=_sgd(30, 1e-4, _ONESTEP_METRICS),  # 2.4: further 30 epochs balanced; lr 0.0001 for it
        # 2.4: "trained ... for 300 and 600 epochs, respectively". CHOICE: 300 for U-Net A, 600 for B
        liver_train=_sgd(300, 1e-3, ("liver_dice",)),
        tumour_train=_sgd(600, 1e-3),
        # 2.4: weighted second optimisation at lr 0.0001. CHOICE: 30 epochs (as the one-step's)
        tumour_finetune_train=_sgd(30, 1e-4),
        joint_train=_sgd(300, 1e-3),  # CHOICE: as long as U-Net A, from scratch
    )


def _cpu(paper: GruberConfig) -> GruberConfig:
    """2 CPU cores in minutes (at most 15 on a machine without AVX-512), on a 16-case phantom.

    Slices at 96 px, 8 filters; U-Net A (the liver of every sequential row) trains longest. Adam at
    lr 1e-3 for every stage instead of SGD: with SGD (momentum 0.9, lr 1e-2) the cross-entropy first
    fits the class prior and the liver Dice was still 0 after 80 steps, where the paper's hundreds of
    GPU epochs get past that. The fine-tunings keep 1e-3 (the paper lowers it to 1e-4): 36-48 steps
    at 1e-4 change little, and the one-step model still marked no liver on real CT after its
    balanced phase. Epochs are capped in steps so the time does not grow with the data; the alpha
    sweep and the joint model are included."""
    def cpu(t: TrainConfig, epochs: int, steps: int, lr: float) -> TrainConfig:
        return replace(t, epochs=epochs, steps_per_epoch=steps, learning_rate=lr, validation_steps=3,
                       optimizer="adam", momentum=0.0)

    return replace(
        paper, profile="cpu", expected_minutes=15.0,
        preprocess=replace(paper.preprocess, size=96),
        unet=replace(paper.unet, base_filters=8, bn_momentum=0.9),
        data=replace(paper.data, max_slices=0, max_val_slices=32),
        # B sees tumour slices and tumour-free liver slices half and half: in a few hundred steps it
        # learns nothing from the paper's mix, where most slices hold no tumour (soft Dice 0.007)
        tumour_data=replace(paper.data, sampling="balanced", positive_fraction=0.5, max_slices=0, max_val_slices=32),
        onestep_train=cpu(paper.onestep_train, 8, 16, 1e-3),
        onestep_balanced_train=cpu(paper.onestep_balanced_train, 3, 16, 1e-3),
        liver_train=cpu(paper.liver_train, 14, 24, 1e-3),
        tumour_train=cpu(paper.tumour_train, 8, 16, 1e-3),
        tumour_finetune_train=cpu(paper.tumour_finetune_train, 3, 12, 1e-3),
        joint_train=cpu(paper.joint_train, 6, 16, 1e-3),
        val_patients=0.15, test_patients=0.25, table_slices=32,
        phantom=PhantomConfig(cases=16, size=256, seed=0),
    )


def _smoke(paper: GruberConfig) -> GruberConfig:
    """Seconds, for the tests: the cpu profile's code path at 64 px on an 8-case phantom, few epochs."""
    cpu = _cpu(paper)

    def smoke(t: TrainConfig, epochs: int) -> TrainConfig:
        return replace(t, epochs=epochs, steps_per_epoch=0, validation_steps=0)

    return replace(
        cpu, profile="smoke", expected_minutes=0.0,
        preprocess=replace(cpu.preprocess, size=64),
        unet=replace(cpu.unet, depth=3, decoder_dropout=0.0),  # too few epochs to learn through dropout
        data=replace(cpu.data, max_val_slices=16),
        tumour_data=replace(cpu.tumour_data, max_val_slices=16),
        # one fixed alpha and the balanced one: both code paths of eq. 2.2-2.3, half the fine-tunings
        alphas=(0.02, "balanced", "balanced_printed"),
        onestep_train=smoke(cpu.onestep_train, 2),
        onestep_balanced_train=smoke(cpu.onestep_balanced_train, 1),
        liver_train=smoke(cpu.liver_train, 6),
        tumour_train=smoke(cpu.tumour_train, 10),
        tumour_finetune_train=smoke(cpu.tumour_finetune_train, 3),
        joint_train=smoke(cpu.joint_train, 2),
        val_patients=0.2, test_patients=0.3, table_slices=16,
        phantom=PhantomConfig(cases=8, size=128, seed=0),
    )


get_config = profile_getter(_paper, _cpu, _smoke)


BALANCED = {"balanced": "bal", "balanced_printed": "bal_printed"}  # eq. 2.3's alpha_k, two readings


def alpha_name(alpha) -> str:
    """Stage / variant suffix of an alpha of eq. 2.2: 0.02 -> "0.02", "balanced" -> "bal",
    "balanced_printed" -> "bal_printed"."""
    return BALANCED[alpha] if isinstance(alpha, str) and alpha in BALANCED else f"{float(alpha):.2f}"
