"""Li, Pan, Lin, "Deep Learning-Based Liver Cancer Segmentation Using U-net" (U-Net, AU-Net,
AU-Net w/DS, DALU-Net on 3D-IRCADb).

Every value comes from the paper (`../shared/papers/li_dalunet.md`) with its section; where the
paper is silent the choice is marked CHOICE and listed in this package's README. The wiring of the
attention, deep-supervision and ConvLSTM variants follows the public references named in
`../shared/papers/NOTES.md` (Oktay et al.'s attention gate, BCDU-Net's ConvLSTM skip fusion).

    python -m liverseg reproduce li_dalunet --profile cpu                               # phantom, 2 CPU cores
    python -m liverseg reproduce li_dalunet --profile paper --data-dir 3Dircadb1 --dataset ircadb
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from liverseg.config import AugmentConfig, DataConfig, PhantomConfig, RunConfig, PreprocessConfig, TrainConfig
from liverseg.config import profile_getter

# Table I's columns, in the paper's order; the runner's default variant is the first of VARIANTS
TABLE_ORDER = ("unet", "aunet", "aunet_ds", "dalunet")
VARIANTS = ("dalunet", "unet", "aunet", "aunet_ds")
VARIANT_TITLES = {"unet": "U-Net", "aunet": "AU-Net", "aunet_ds": "AU-Net w/DS", "dalunet": "DALU-Net"}


@dataclass(frozen=True)
class LiNetConfig:
    """III-C (Fig. 5) for the U-Net; III-D (Fig. 7) for the three attention variants."""

    base_filters: int = 64  # III-C / Fig. 5: Ronneberger's U-Net, 64 filters at the top
    depth: int = 4  # III-C: "four sub-modules" in the encoder, each ending in a max pooling (64 -> 1024)
    # III-C: "valid padding in the convolution layers": 572 x 572 in, 388 x 388 out (Fig. 5)
    unet_tile: int = 572
    # CHOICE: the attention variants use same padding (the issue allows it; Oktay's and BCDU-Net's
    # reference code do), so their skips need no cropping and ConvLSTM sees equal sizes
    dropout: float = 0.5  # CHOICE: Ronneberger's dropout at the end of the contracting path
    batch_norm: bool = True  # CHOICE: BatchNormalization after every convolution in all four networks
    # CHOICE: BatchNormalization moving-average momentum; short profiles use 0.9 (Gruber's experience:
    # after ~100 steps at 0.99 the moving statistics lag the batch ones)
    bn_momentum: float = 0.99
    # CHOICE: the sigmoid bias starts at this foreground probability (Lin et al. 2017) instead of 0.5, so
    # cross-entropy does not spend its first epochs fitting the class prior
    output_prior: float = 0.01
    # CHOICE: deep-supervision loss weights, main (full-resolution) head first, then one head per coarser
    # decoder level (III-D: "the output of each layer of the decoder will be matched with the output");
    # each coarser head counts half the previous one; normalised to sum 1 in the loss
    ds_weights: tuple[float, ...] = (1.0, 0.5, 0.25, 0.125)
    # CHOICE: ConvLSTM fusion as BCDU-Net D3: C/2 filters, 3x3, the 2-step (skip, decoder) sequence read
    # backwards; III-D's "dense connectivity" = BCDU-Net's densely connected bottleneck (3 conv blocks)
    convlstm_backwards: bool = True
    dense_bottleneck_blocks: int = 3
    # NOTES.md (Oktay et al., Attention-Gated-Networks): gates on the skips below the top level, each
    # gated by the next coarser decoder tensor, the gated features through W (1x1 conv + BN). The top
    # skip goes to the decoder ungated (`attention_top_skip=True` gates it too)
    attention_top_skip: bool = False
    attention_projection: bool = True


@dataclass(frozen=True)
class LiConfig(RunConfig):
    # III-A / Fig. 2: window width 250, centre 0 (HU -125 .. 125), then histogram equalisation (Fig. 4)
    preprocess: PreprocessConfig = field(default_factory=lambda: PreprocessConfig(
        window=(-125.0, 125.0), equalize="global", size=512))
    net: LiNetConfig = field(default_factory=LiNetConfig)
    data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    train: TrainConfig = field(default_factory=TrainConfig)  # the same for the four networks (Table I)
    outputs: tuple[str, ...] = ("liver", "tumour")  # two sigmoid channels; Table I scores the liver
    # III-A: 20 3D-IRCADb patients; the paper gives no split. CHOICE: 14 / 3 / 3 patients, seeded
    val_patients: int = 3
    test_patients: int = 3
    threshold: float = 0.5  # CHOICE: both sigmoid channels thresholded at 0.5


def _paper() -> LiConfig:
    augment = AugmentConfig(
        # III-B, read in ImageDataGenerator units (the Keras API the text paraphrases, as Gong's 0.2):
        # "width and height shifts (up to 5 percent)" = 0.05 of the size; "zoom (up to 5 percent)" = 0.05.
        # "small rotations (up to 10 percent)": CHOICE 18 degrees, 10 % of the API's +-180 degree
        # range (rotation_range=0.1 would be a tenth of a degree, no rotation at all; 10 % of a full
        # turn, 36 degrees, is no "small rotation" of an axial CT slice).
        # "Shear" has no value: CHOICE 0.05 (degrees), the value of the same Keras U-Net snippet.
        rotation_range=18.0, width_shift_range=0.05, height_shift_range=0.05, shear_range=0.05, zoom_range=0.05,
        fill_mode="nearest",  # CHOICE: ImageDataGenerator's default
    )
    data = DataConfig(
        # CHOICE: 80 % slices with liver, 20 % without (whole volumes are scored, so the networks see
        # liver-free slices they will meet at inference)
        sampling="liver_balanced", positive_fraction=0.8, targets=("liver", "tumour"),
        batch_size=4,  # CHOICE: not given; a 700 x 700 valid U-Net input at 64 filters fits a 24 GB GPU
    )
    train = TrainConfig(
        # III-C: Adagrad, cross-entropy; callbacks checkpoint, ReduceLROnPlateau, EarlyStopping;
        # Fig. 6: 100 epochs. CHOICE: lr 0.01 (Adagrad's usual rate; the paper gives none), plateau
        # factor 0.1 after 5 flat epochs, early stopping after 10. CHOICE: the three callbacks watch the
        # validation soft liver Dice (Table I's quantity): the validation loss of the deeply supervised
        # networks mixes in the coarse heads, and on the smoke profile it picked DALU-Net's epoch with a
        # validation liver Dice of 0.18 where the last epoch had 0.61
        epochs=100, learning_rate=1e-2, optimizer="adagrad", loss="bce",
        schedule="plateau", step_factor=0.1, plateau_patience=5, early_stopping_patience=10,
        monitor="val_liver_soft_dice", monitor_mode="max",
        metrics=("liver_dice", "tumour_dice", "liver_soft_dice", "tumour_soft_dice"),
    )
    return LiConfig(profile="paper", data=data, augment=augment, train=train,
                    phantom=PhantomConfig(cases=20, size=256, seed=0))


def _cpu(paper: LiConfig) -> LiConfig:
    """2 CPU cores, four networks in minutes (at most 15 on a machine without AVX-512), on a 16-case
    phantom: 96 px slices, 8 filters, three poolings (valid U-Net tile 156 -> 68), epochs capped in
    steps. Adagrad stays, at lr 0.3: at 0.05 the validation liver Dice of AU-Net was 0.62 after 160 steps,
    at 0.3 0.69, as fast as Adam at 1e-3 (0.65); 0.01 barely moves in that many steps.
    No early stopping (a short run; the checkpoint still keeps the best validation soft liver Dice)."""
    return replace(
        paper, profile="cpu", expected_minutes=15.0,
        preprocess=replace(paper.preprocess, size=96),
        net=replace(paper.net, base_filters=8, depth=3, unet_tile=156, bn_momentum=0.9),
        data=replace(paper.data, batch_size=8),
        train=replace(paper.train, epochs=10, learning_rate=0.3, steps_per_epoch=16, validation_steps=3,
                      early_stopping_patience=0, plateau_patience=3),
        val_patients=3, test_patients=3,
        phantom=PhantomConfig(cases=16, size=256, seed=0),
    )


def _smoke(paper: LiConfig) -> LiConfig:
    """Seconds, for the tests: the cpu profile's code path at 64 px on an 8-case phantom, few epochs."""
    cpu = _cpu(paper)
    return replace(
        cpu, profile="smoke", expected_minutes=0.0,
        preprocess=replace(cpu.preprocess, size=64),
        net=replace(cpu.net, unet_tile=124, dropout=0.0),  # too few steps to learn through dropout
        train=replace(cpu.train, epochs=6, steps_per_epoch=12, validation_steps=4),
        val_patients=1, test_patients=2,
        phantom=PhantomConfig(cases=8, size=128, seed=0),
    )


get_config = profile_getter(_paper, _cpu, _smoke)
