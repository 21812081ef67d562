"""Gong et al., "A U-Net based multi-scale feature extraction for liver tumour segmentation in CT images".

Every value comes from the paper (`../shared/papers/gong_multiscale_fusion.md`) with its section;
where the paper is silent the choice is marked CHOICE and listed in this package's README.

    python -m liverseg reproduce gong --profile cpu                          # phantom, 2 CPU cores
    python -m liverseg reproduce gong --profile paper --data-dir LITS_DIR    # GPU, LiTS
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace

from liverseg.config import AugmentConfig, DataConfig, PhantomConfig, RunConfig, PreprocessConfig, TrainConfig
from liverseg.config import profile_getter


@dataclass(frozen=True)
class UNetConfig:
    """Coarse stage (2.2): plain U-Net."""

    base_filters: int = 64  # 2.2: "increased from 64 to 512 in a double increment"
    depth: int = 4  # 2.2: "four down-sampling and up-sampling"
    kernel_size: int = 3  # 2.2: "3*3"
    padding: str = "same"  # 2.2: "same padding"
    dropout: float = 0.5  # CHOICE: 2.2 names drop-out in the down path; 0.5 at the bottleneck as in Ronneberger's U-Net
    outputs: tuple[str, ...] = ("liver", "tumour")  # CHOICE: 2.2 "sigmoid ... locating liver and tumour": two sigmoid channels
    # the coarse U-Net sees the slice this many times smaller (area down-sampling, its maps up-sampled
    # back; `liverseg.nn.resolution`), so that the fine stage can work on the cache's full resolution.
    # 1 (the paper's: one resolution for both) in every profile; the cpu-phantom trials of other values
    # are in benchmarks/RESULTS.md ("Tumours at the cpu profile")
    downsample: int = 1


@dataclass(frozen=True)
class FusionNetConfig:
    """Fine stage (2.2, Fig. 2-3): 7x7 stem, dense blocks with residual connections, 3 poolings, multi-scale fusion."""

    stem_kernel: int = 7  # 2.2: "7 x 7 convolutional layer"
    base_filters: int = 64  # CHOICE: Fig. 2 gives no widths; 64 as in the coarse U-Net, doubling per scale
    poolings: int = 3  # 2.2: "pooling operation three times ... four levels"
    dense_layers: int = 4  # CHOICE: layers per dense block (Fig. 3b draws four)
    growth_rate: int = 0  # CHOICE: 0 = base_filters // 4 at each scale (DenseNet-style k = filters / layers)
    outputs: tuple[str, ...] = ("tumour",)  # 2.2: second network segments the tumour, sigmoid


@dataclass(frozen=True)
class GongConfig(RunConfig):
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    coarse_model: UNetConfig = field(default_factory=UNetConfig)
    fine_model: FusionNetConfig = field(default_factory=FusionNetConfig)
    coarse_data: DataConfig = field(default_factory=DataConfig)
    fine_data: DataConfig = field(default_factory=DataConfig)
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    coarse_train: TrainConfig = field(default_factory=TrainConfig)
    fine_train: TrainConfig = field(default_factory=TrainConfig)
    # the ablation of section 3: the fine network trained and applied on whole slices
    fine_whole_train: TrainConfig = field(default_factory=TrainConfig)
    threshold: float = 0.5  # CHOICE: sigmoid outputs thresholded at 0.5
    # CHOICE: coarse tumour probability above which a slice gets a crop. 2.2 uses the coarse U-Net
    # for the "approximate position" only and the fine stage makes the final call, so a low value
    # buys recall: on an earlier (128 px) cpu profile's validation patients tumour Dice per case 0.27
    # at 0.5, 0.31 at 0.1 (0.09 -> 0.33 on its test patients; README).
    crop_threshold: float = 0.1
    # CHOICE: where the coarse U-Net finds no tumour on a slice that holds coarse liver, crop around
    # that liver instead (its four boundary points) and let the fine network decide. False: 2.2 as
    # written, no crop without a coarse tumour. The cpu profile sets True: its coarse U-Net
    # localises the liver but not the phantom's small lesions (benchmarks/RESULTS.md, "Tumours at the
    # cpu profile"), and the fine network already trains on liver-centred crops (stages.py)
    crop_on_liver: bool = False
    # CHOICE: share of the coarse U-Net's samples drawn from tumour slices (`liverseg.data.sampling.
    # tumour_mix`; 0 = 2.1's liver slices alone). The coarse tumour map places the crops (2.2)
    coarse_tumour_share: float = 0.0
    # 3: "40 training / 20 test patients", only patients with tumours, large:small 1:1
    train_patients: int = 40
    test_patients: int = 20


# The loss and the monitored metrics. CHOICE: 2.2 gives no loss; Dice + binary cross-entropy (the
# Dice term for the small tumour, BCE for stable early gradients). The coarse U-Net is picked by
# the thresholded Dice over both channels; the fine network by the validation *soft* Dice, because
# the thresholded Dice stays at 0 for many epochs on small validation sets (a few patients' small
# tumours), which made "best" an untrained early epoch.
_COARSE_METRICS = ("dice", "soft_dice", "liver_dice", "tumour_dice")
_FINE_METRICS = ("dice", "soft_dice")


def _paper() -> GongConfig:
    preprocess = PreprocessConfig(
        window=(-100.0, 200.0),  # CHOICE: 2.1 gives no window; the liver window of Christ et al. [7]
        denoise="median",  # 2.1 "denoising": CHOICE 3x3 median (removes speckle, keeps edges)
        denoise_size=3,
        smooth_sigma=0.5,  # 2.1 "smoothing": CHOICE Gaussian, sigma 0.5 px
        equalize="clahe",  # 2.1 "contrast enhancement": CHOICE CLAHE (local histogram equalisation)
        size=512,  # 2.2 / 3: 512 x 512 scans
    )
    augment = AugmentConfig(
        # 3: "rotation (0.2 range), shift ... (0.05) ... shear (0.05), zoom (0.05), and flip (horizontal)".
        # CHOICE: values are taken in Keras ImageDataGenerator units, the API the paper used (3:
        # "implemented using Keras"): rotation_range in degrees, shear_range in degrees.
        rotation_range=0.2, width_shift_range=0.05, height_shift_range=0.05, shear_range=0.05,
        zoom_range=0.05, horizontal_flip=True, fill_mode="nearest",
    )
    coarse_data = DataConfig(
        # 2.1: "only select slices containing liver tissue" for training and testing. CHOICE: the
        # cascade here runs on whole volumes (LiTS scores whole volumes), so the coarse U-Net also
        # sees slices without liver (20%) and learns to predict nothing there; without them it put
        # liver in the heart and spleen slices of unseen CT (liver Dice 0.81 -> 0.86 on a held-out
        # real patient, see README).
        sampling="liver_balanced", positive_fraction=0.8, targets=("liver", "tumour"),
        batch_size=4,  # CHOICE: not given; fits an 8 GB RTX 2080 (3) at 512 x 512
        val_fraction=0.2,  # CHOICE: validation patients held out of the 40 training patients
    )
    fine_data = DataConfig(
        sampling="tumour",  # 2.1: "Slices containing the tumour ... are selected"
        targets=("tumour",),
        crop="tiles",  # 2.1: "divided into 4 slices with size 256*256"
        crop_size=256,  # 2.2: 256 x 256 crop
        crop_target="tumour",
        crop_jitter=64,  # CHOICE: shift of the tumour-centred crops mixed in (see README)
        batch_size=8,  # CHOICE: not given
        val_fraction=0.2,
    )
    # 3: Adam, lr 1e-4, 60 epochs (coarse); Adam, lr 1e-5, 150 epochs (fine)
    coarse_train = TrainConfig(epochs=60, learning_rate=1e-4, optimizer="adam", loss="dice_bce",
                               metrics=_COARSE_METRICS, monitor="val_dice")
    fine_train = TrainConfig(epochs=150, learning_rate=1e-5, optimizer="adam", loss="dice_bce",
                             metrics=_FINE_METRICS, monitor="val_soft_dice")
    return GongConfig(profile="paper", preprocess=preprocess, coarse_data=coarse_data, fine_data=fine_data,
                      augment=augment, coarse_train=coarse_train, fine_train=fine_train,
                      fine_whole_train=fine_train)


def _cpu(paper: GongConfig) -> GongConfig:
    """2 CPU cores in minutes, on a 16-case phantom.

    Slices at the phantom's own 256 px, so that its lesions survive (at 128 px a U-Net did not find
    them in 400 steps; benchmarks/RESULTS.md, "Tumours at the cpu profile"). The coarse U-Net sees
    them at 128 px (`downsample` 2): it localises the liver; the fine network works on 128 px crops
    at 256 px, half the slice as 2.2's 256 of 512, and where the coarse U-Net finds no tumour the
    crop is placed on its liver (`crop_on_liver`). 8 filters in both networks, lr 1e-3 (the paper's
    1e-4 / 1e-5 need hundreds of GPU epochs). Epochs are capped in steps so that the time does not
    grow with the phantom: coarse 16 x 24 batches of 8, fine 14 x 20 batches of 8 with 4 validation
    batches (ablation 3). No early stopping: the fine network's validation score stays near 0 for
    its first epochs and then rises. The whole-slice ablation network (256 px, 4x a crop per step)
    gets 2 x 2 batches: it shows the pipeline, it does not converge (see README)."""
    size = 256
    return replace(
        paper, profile="cpu", expected_minutes=15.0,
        preprocess=replace(paper.preprocess, size=size),
        coarse_model=replace(paper.coarse_model, base_filters=8, downsample=2),
        fine_model=replace(paper.fine_model, base_filters=8),
        coarse_data=replace(paper.coarse_data, batch_size=8),
        fine_data=replace(paper.fine_data, batch_size=8, crop_size=size // 2, crop_jitter=size // 8),
        crop_on_liver=True,
        coarse_train=replace(paper.coarse_train, epochs=16, learning_rate=1e-3, steps_per_epoch=24),
        fine_train=replace(paper.fine_train, epochs=14, learning_rate=1e-3, steps_per_epoch=20, validation_steps=4),
        fine_whole_train=replace(paper.fine_whole_train, epochs=2, learning_rate=1e-3, steps_per_epoch=2,
                                 validation_steps=1),
        train_patients=10, test_patients=5,
        phantom=PhantomConfig(cases=16, size=256, seed=0),
    )


def _smoke(paper: GongConfig) -> GongConfig:
    """Seconds, for the tests: the cpu profile's code path at 64 px on an 8-case phantom, few epochs."""
    size = 64
    cpu = _cpu(paper)
    return replace(
        cpu, profile="smoke", expected_minutes=0.0,
        preprocess=replace(cpu.preprocess, size=size),
        # too few epochs to learn through dropout; one resolution, and 2.2's crops, at 64 px
        coarse_model=replace(cpu.coarse_model, dropout=0.0, downsample=1), crop_on_liver=False,
        fine_model=replace(cpu.fine_model, base_filters=8),
        fine_data=replace(cpu.fine_data, batch_size=8, crop_size=size // 2, crop_jitter=size // 8),
        coarse_train=replace(cpu.coarse_train, epochs=10, steps_per_epoch=0),
        fine_train=replace(cpu.fine_train, epochs=4, steps_per_epoch=0, validation_steps=0),
        fine_whole_train=replace(cpu.fine_whole_train, epochs=2, steps_per_epoch=0, validation_steps=0),
        train_patients=5, test_patients=3,
        phantom=PhantomConfig(cases=8, size=128, seed=0),
    )


get_config = profile_getter(_paper, _cpu, _smoke)
