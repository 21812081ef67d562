"""Liu, Qi, Zhu, Li, "CR-U-Net: Cascaded U-Net with Residual Mapping for Liver Segmentation in CT
Images" (IEEE VCIP 2019).

Every value comes from the paper (`../shared/papers/liu_crunet.md`) with its section; where the
paper is silent the choice is marked CHOICE and listed in this package's README. NOTES.md (Liu
section) settles MDice (eq. 4), the layer counts and the learning-rate notation.

    python -m liverseg reproduce liu_crunet --profile cpu                          # phantom, 2 CPU cores
    python -m liverseg reproduce liu_crunet --profile paper --data-dir LITS_DIR    # GPU, LiTS
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from liverseg.config import DataConfig, PhantomConfig, RunConfig, PreprocessConfig, TrainConfig
from liverseg.config import profile_getter

# Table I rows we train, in the table's order; the runner's default variant is the first of VARIANTS
TABLE_ORDER = ("unet", "runet", "crunet_a", "crunet_b", "crunet_c", "crunet_d")
# II-A argues the intermediate processing against largest-component post-processing, so rows b and d
# are also scored without our largest-component step (suffix "_all_components": the same network)
ALL_COMPONENTS = "_all_components"
VARIANTS = ("crunet_d", "unet", "runet", "crunet_a", "crunet_b", "crunet_c",
            f"crunet_b{ALL_COMPONENTS}", f"crunet_d{ALL_COMPONENTS}")
VARIANT_TITLES = {
    "unet": "U-Net", "runet": "R-U-Net", "crunet_a": "CR-U-Net a (2 levels of the same depth)",
    "crunet_b": "CR-U-Net b (without the intermediate processing)", "crunet_c": "CR-U-Net c (Dice loss)",
    "crunet_d": "CR-U-Net d (MDice loss)",
    f"crunet_b{ALL_COMPONENTS}": "CR-U-Net b, every connected component kept",
    f"crunet_d{ALL_COMPONENTS}": "CR-U-Net d, every connected component kept",
}


def variant_stage(variant: str) -> str:
    """The trained stage (checkpoint folder) a variant applies."""
    return variant.removesuffix(ALL_COMPONENTS)


@dataclass(frozen=True)
class RUNetConfig:
    """II-A, Fig. 2: unit blocks of three 3x3 convolutions (BN, ReLU, dropout) with a pre-activation
    residual mapping (He et al. 2016 [18]), 2x2 max pooling / 2x2 stride-2 deconvolution."""

    # CHOICE: not given; 32 doubling per level (512 at level 1's bridge after 4 poolings, 1024 at level
    # 2's after 5)
    base_filters: int = 32
    level1_blocks: int = 4  # II-A: "4 down-sampling unit blocks and 4 up-sampling unit blocks ... 35 layers"
    level2_blocks: int = 5  # II-A: "5 down-sampling unit blocks and 5 up-sampling unit blocks ... 43 layers"
    convs_per_block: int = 3  # II-A: "Three convolution layers with the filter of size 3x3"
    # NOTES.md: 4 layers per unit block gives 8n + 3 = 35 / 43 with a 3-conv bottom bridge
    bridge_convs: int = 3
    dropout: float = 0.1  # II-A: each convolution has a dropout sub-layer. CHOICE: rate 0.1 (not given)
    bias_init: float = 0.1  # III-B: "the bias was initialized to 0.10"; weights: Xavier (Glorot) [22]
    bn_momentum: float = 0.99  # CHOICE: Keras default; short profiles 0.9
    # CHOICE (short profiles only): the output layer's bias starts at this liver probability instead of
    # sigmoid(0.1) = 0.52. MDice's gradient is tiny while every pixel sits near 0.5, and Adam moves the
    # bias by about one learning rate per step: a few hundred CPU steps leave the map near 0.5
    # (validation soft Dice 0.05). 0 = the paper's bias 0.1 like every layer
    output_prior: float = 0.0
    unet_base_filters: int = 64  # Table I's U-Net [12]: Ronneberger's widths, 64 -> 1024, four poolings


@dataclass(frozen=True)
class LiuConfig(RunConfig):
    # III-A: HU unified within [-200, 250], then histogram equalisation; 512 x 512 slices
    preprocess: PreprocessConfig = field(default_factory=lambda: PreprocessConfig(
        window=(-200.0, 250.0), equalize="global", size=512))
    net: RUNetConfig = field(default_factory=RUNetConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)  # every R-U-Net / CR-U-Net level (III-B)
    unet_train: TrainConfig = field(default_factory=TrainConfig)  # the plain U-Net baseline ("its own loss")
    # II-A: threshold of level 1's sigmoid, then opening with a disk of radius 5 and closing with radius 5
    level1_threshold: float = 0.5  # CHOICE: 0.5
    morphology_radius: int = 5
    threshold: float = 0.5  # CHOICE: the final sigmoid thresholded at 0.5
    # II-B / III-C: MDice alpha 0.5 (FP), beta 0.7 (FN), eps 1e-5
    mdice_alpha: float = 0.5
    mdice_beta: float = 0.7
    mdice_eps: float = 1e-5
    folds: int = 10  # III-B: ten-fold cross-validation by patient (`--folds 0` for one run on one split)
    val_patients: float = 0.1  # CHOICE: share of the training patients held out for the checkpoint
    test_patients: float = 0.2  # CHOICE: one run (cpu and smoke profiles): share of the patients for test


def _paper() -> LiuConfig:
    data = DataConfig(
        # III-A: the liver task. CHOICE: 80 % slices with liver, 20 % without (whole volumes are scored)
        sampling="liver_balanced", positive_fraction=0.8, targets=("liver",),
        batch_size=2,  # III-B: "batch size of 2"
    )
    train = TrainConfig(
        # III-B: lr "1^-4 - 1^-10" = 1e-4 decaying to 1e-10 (NOTES.md). CHOICE: a linear decay over the
        # run; "20,000 epochs" read as 20,000 iterations (batches of 2): 100 epochs of 200 batches (20,000
        # epochs over LiTS would be years on a GTX 1070). CHOICE: Adam (the paper names no optimiser)
        epochs=100, steps_per_epoch=200, learning_rate=1e-4, final_learning_rate=1e-10, schedule="linear",
        optimizer="adam", loss="mdice", monitor="val_liver_soft_dice", monitor_mode="max",
        metrics=("liver_dice", "liver_soft_dice"),
    )
    # Table I: "The existing segmentation models were trained using their own loss function": the
    # U-Net [12] with (binary) cross-entropy
    unet_train = replace(train, loss="bce")
    return LiuConfig(profile="paper", data=data, train=train, unet_train=unet_train,
                     phantom=PhantomConfig(cases=20, size=256, seed=0))


def _cpu(paper: LiuConfig) -> LiuConfig:
    """2 CPU cores, seven trainings in minutes (at most 15 on a machine without AVX-512), on a 16-case
    phantom: 96 px slices, 8 filters, level 1 three blocks and level 2 four (one more, as in the
    paper), batches of 8, epochs capped in steps. lr 1e-2 decaying linearly to 1e-3 and the output
    bias at p = 0.05: with the paper's 1e-4 and bias 0.1 MDice stays near 0.97 for hundreds of steps
    (every pixel near 0.5); on the smoke profile R-U-Net's validation soft Dice after 50 steps was
    0.05 at lr 1e-3, 0.43 with the prior at 3e-3, 0.53 at 1e-2."""
    def cpu(t: TrainConfig) -> TrainConfig:
        return replace(t, epochs=8, steps_per_epoch=16, validation_steps=3, learning_rate=1e-2,
                       final_learning_rate=1e-3)

    return replace(
        paper, profile="cpu", expected_minutes=15.0, folds=0,
        preprocess=replace(paper.preprocess, size=96),
        net=replace(paper.net, base_filters=8, unet_base_filters=8, level1_blocks=3, level2_blocks=4,
                    bn_momentum=0.9, dropout=0.0, output_prior=0.05),
        # CHOICE: r = 5 px is 1 % of a 512 slice; at 96 px that share is 1 px, which opens and closes
        # almost nothing: 2 px (the code path and the order of the operations are the paper's)
        morphology_radius=2,
        data=replace(paper.data, batch_size=8),
        train=cpu(paper.train), unet_train=cpu(paper.unet_train),
        val_patients=0.15, test_patients=0.25,
        phantom=PhantomConfig(cases=16, size=256, seed=0),
    )


def _smoke(paper: LiuConfig) -> LiuConfig:
    """Seconds, for the tests: the cpu profile's code path at 48 px on an 8-case phantom (seven trainings)."""
    cpu = _cpu(paper)

    def smoke(t: TrainConfig) -> TrainConfig:
        return replace(t, epochs=6, steps_per_epoch=8, validation_steps=3)

    return replace(
        cpu, profile="smoke", expected_minutes=0.0,
        preprocess=replace(cpu.preprocess, size=48),
        net=replace(cpu.net, level1_blocks=2, level2_blocks=3),
        train=smoke(cpu.train), unet_train=smoke(cpu.unet_train),
        val_patients=0.2, test_patients=0.3,
        phantom=PhantomConfig(cases=8, size=128, seed=0),
    )


get_config = profile_getter(_paper, _cpu, _smoke)
