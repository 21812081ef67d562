"""Segmentation losses: (balanced) cross-entropy, Dice, Tversky, MDice, Dice + cross-entropy,
joint liver+tumour loss, and deep-supervision weights.

Inputs: `y_true` (B, H, W, K) with values in {0, 1} and `y_pred` (B, H, W, K)
probabilities (sigmoid outputs, or softmax over K where stated). Everything
is computed in float32 whatever the model's precision policy. Overlap losses
(Dice, Tversky, MDice) are computed per channel and averaged over channels;
with `per_image=True` the sums run over each image separately and the
per-image losses (B,) are averaged by the Keras reduction, otherwise the
sums run over the whole batch and the loss is one scalar.
"""
from __future__ import annotations

import keras
from keras import ops

from liverseg.errors import OptionError

__all__ = [
    "BalancedCrossentropy",
    "DiceLoss",
    "TverskyLoss",
    "MDiceLoss",
    "JointLoss",
    "DiceBCELoss",
    "deep_supervision_weights",
    "deep_supervision_loss_weights",
]

_SPATIAL = (1, 2)


def _as_float32(y_true, y_pred):
    return ops.cast(y_true, "float32"), ops.cast(y_pred, "float32")


def _sum(x, per_image):
    """Sums over H, W (per image) or over B, H, W (whole batch); the channel axis is kept."""
    return ops.sum(x, axis=_SPATIAL if per_image else (0, 1, 2))


def _overlap_terms(y_true, y_pred, per_image):
    """Soft intersection, prediction sum, truth sum, FP and FN, each (B, K) or (K,)."""
    inter = _sum(y_true * y_pred, per_image)
    p = _sum(y_pred, per_image)
    g = _sum(y_true, per_image)
    return inter, p, g, p - inter, g - inter


class _OverlapLoss(keras.losses.Loss):
    """Shared constructor/config of the overlap losses."""

    def __init__(self, smooth, per_image=False, name=None, reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if smooth < 0:
            raise OptionError(f"smooth must be >= 0, got {smooth}")
        self.smooth = float(smooth)
        self.per_image = bool(per_image)

    def _score(self, y_true, y_pred):
        raise NotImplementedError

    def call(self, y_true, y_pred):
        y_true, y_pred = _as_float32(y_true, y_pred)
        return 1.0 - ops.mean(self._score(y_true, y_pred), axis=-1)

    def get_config(self):
        return {**super().get_config(), "dtype": self.dtype,
                "smooth": self.smooth, "per_image": self.per_image}


@keras.saving.register_keras_serializable(package="liverseg")
class DiceLoss(_OverlapLoss):
    """1 - soft Dice, Dice = (2 sum(p g) + smooth) / (D + smooth).

    D = sum(p) + sum(g) (plain) or sum(p^2) + sum(g^2) (`squared=True`, the
    V-Net form of Milletari et al. 2016, also Liu et al. eq. 1).
    When prediction and truth are both empty the plain form's gradient per
    pixel is 1 / smooth, which overflows a float16 prediction for smooth below
    about 1.5e-5; the default 1.0 keeps it at most 1 (use a smaller smooth
    only with float32 outputs).
    """

    def __init__(self, squared=False, smooth=1.0, per_image=False, name="dice_loss",
                 reduction="sum_over_batch_size", dtype=None):
        super().__init__(smooth=smooth, per_image=per_image, name=name, reduction=reduction, dtype=dtype)
        self.squared = bool(squared)

    def _score(self, y_true, y_pred):
        inter = _sum(y_true * y_pred, self.per_image)
        if self.squared:
            denom = _sum(y_pred * y_pred, self.per_image) + _sum(y_true * y_true, self.per_image)
        else:
            denom = _sum(y_pred, self.per_image) + _sum(y_true, self.per_image)
        return (2.0 * inter + self.smooth) / (denom + self.smooth)

    def get_config(self):
        return {**super().get_config(), "squared": self.squared}


@keras.saving.register_keras_serializable(package="liverseg")
class TverskyLoss(_OverlapLoss):
    """1 - Tversky index (Salehi et al. 2017), T = (I + s) / (I + alpha FP + beta FN + s).

    I = sum(p g), FP = sum(p (1 - g)) (weighted by `alpha`), FN = sum((1 - p) g)
    (weighted by `beta`); alpha = beta = 0.5 gives the Dice loss. As for
    DiceLoss, the empty-vs-empty gradient per pixel is alpha / smooth, hence
    the default smooth 1.0.
    """

    def __init__(self, alpha=0.5, beta=0.5, smooth=1.0, per_image=False, name="tversky_loss",
                 reduction="sum_over_batch_size", dtype=None):
        super().__init__(smooth=smooth, per_image=per_image, name=name, reduction=reduction, dtype=dtype)
        self.alpha, self.beta = float(alpha), float(beta)

    def _score(self, y_true, y_pred):
        inter, _, _, fp, fn = _overlap_terms(y_true, y_pred, self.per_image)
        return (inter + self.smooth) / (inter + self.alpha * fp + self.beta * fn + self.smooth)

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "beta": self.beta}


@keras.saving.register_keras_serializable(package="liverseg")
class MDiceLoss(_OverlapLoss):
    """Multiplicative Dice loss of Liu et al. (CR-U-Net), eq. 4: 1 - D(P, G) * T(P, G).

    1 - (2 I * I + eps) / ((sum p + sum g) (I + alpha FP + beta FN) + eps), with
    I = sum(p g), FP = sum(p (1 - g)), FN = sum((1 - p) g): alpha weights false
    positives and beta false negatives (eq. 3; the paper uses alpha = 0.5,
    beta = 0.7 to weight FN more, and eps = 1e-5). The denominator is
    quadratic in the prediction, so with eps = 1e-5 the gradient per pixel
    stays below (9/8) sqrt(alpha / (3 eps)) (about 145) on an empty truth.
    """

    def __init__(self, alpha=0.5, beta=0.7, smooth=1e-5, per_image=False, name="mdice_loss",
                 reduction="sum_over_batch_size", dtype=None):
        super().__init__(smooth=smooth, per_image=per_image, name=name, reduction=reduction, dtype=dtype)
        self.alpha, self.beta = float(alpha), float(beta)

    def _score(self, y_true, y_pred):
        inter, p, g, fp, fn = _overlap_terms(y_true, y_pred, self.per_image)
        num = 2.0 * inter * inter + self.smooth
        den = (p + g) * (inter + self.alpha * fp + self.beta * fn) + self.smooth
        return num / den

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "beta": self.beta}


@keras.saving.register_keras_serializable(package="liverseg")
class BalancedCrossentropy(keras.losses.Loss):
    """Pixel-wise (class-weighted) cross-entropy of Gruber et al., eq. 2.2-2.4. Returns (B,) means over pixels.

    Binary mode (sigmoid outputs, each of the K channels its own binary
    problem): loss = -mean_pixels[w1 g log p + w0 (1 - g) log(1 - p)], where
    - `alpha=None, per_image=False`: w0 = w1 = 1 (plain binary cross-entropy);
    - `alpha=a`: w0 = a for background pixels, w1 = 1 - a for foreground pixels
      (eq. 2.2: alpha multiplies the background indicator; a small alpha such
      as 0.02 lowers the weight of background, Fig. 3.4);
    - `per_image=True`: w1 = 1 - (fraction of foreground pixels of that image
      and channel) = alpha_k of eq. 2.3, and w0 = that fraction, so the rarer
      class gets the larger weight (class-balanced cross-entropy). Eq. 2.2
      prints log(p) on background and log(1 - p) on tumour pixels; the usual
      log-likelihood pairing (log p on foreground) is used here. An image
      without foreground gets w0 = 0 and so contributes no loss. `invert_balance=True` swaps
      the two (w0 = 1 - fraction: eq. 2.2 with eq. 2.3's alpha_k taken as printed; an image
      without foreground then gets full background weight, and foreground pixels weigh their
      own small fraction). `call(..., fraction_of=mask)` takes the fraction from `mask`
      instead of `y_true` (eq. 2.3 counts B_k, the unmasked tumour, while eq. 2.2's target is
      the masked M B_k).
    Categorical mode (`categorical=True`, softmax over K channels):
    loss = -mean_pixels sum_c w_c g_c log p_c, with w_c = 1 (plain), the given
    `class_weights`, or, with `per_image=True`, w_c = 1 - (fraction of class c
    in that image) (eq. 2.4). The mean over pixels replaces the paper's sum
    (a constant factor 1 / (H W)).
    """

    def __init__(self, alpha=None, per_image=False, categorical=False, class_weights=None, invert_balance=False,
                 epsilon=1e-7, name="balanced_crossentropy", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if alpha is not None and not 0.0 < float(alpha) < 1.0:
            raise OptionError(f"alpha must lie in (0, 1), got {alpha}")
        if alpha is not None and per_image:
            raise OptionError("give either a fixed alpha or per_image=True, not both")
        if alpha is not None and categorical:
            raise OptionError("alpha is for binary outputs; use class_weights with categorical=True")
        if class_weights is not None and (not categorical or per_image):
            raise OptionError("class_weights need categorical=True and per_image=False")
        self.alpha = None if alpha is None else float(alpha)
        self.per_image = bool(per_image)
        self.categorical = bool(categorical)
        self.class_weights = None if class_weights is None else [float(w) for w in class_weights]
        self.invert_balance = bool(invert_balance)
        self.epsilon = float(epsilon)

    def call(self, y_true, y_pred, fraction_of=None):
        y_true, y_pred = _as_float32(y_true, y_pred)
        p = ops.clip(y_pred, self.epsilon, 1.0 - self.epsilon)
        if self.categorical:
            if self.per_image:
                w = 1.0 - ops.mean(y_true, axis=_SPATIAL, keepdims=True)
            elif self.class_weights is not None:
                if len(self.class_weights) != int(y_pred.shape[-1]):
                    raise OptionError(f"{len(self.class_weights)} class_weights for {y_pred.shape[-1]} channels")
                w = ops.convert_to_tensor(self.class_weights, dtype="float32")
            else:
                w = 1.0
            pix = -ops.sum(w * y_true * ops.log(p), axis=-1)
            return ops.mean(pix, axis=_SPATIAL)
        if self.per_image:
            counted = y_true if fraction_of is None else ops.cast(fraction_of, "float32")
            frac = ops.mean(counted, axis=_SPATIAL, keepdims=True)
            w0, w1 = (1.0 - frac, frac) if self.invert_balance else (frac, 1.0 - frac)
        elif self.alpha is not None:
            w0, w1 = self.alpha, 1.0 - self.alpha
        else:
            w0, w1 = 1.0, 1.0
        pix = -(w1 * y_true * ops.log(p) + w0 * (1.0 - y_true) * ops.log(1.0 - p))
        return ops.mean(pix, axis=(1, 2, 3))

    def get_config(self):
        return {**super().get_config(), "dtype": self.dtype, "alpha": self.alpha,
                "per_image": self.per_image, "categorical": self.categorical,
                "class_weights": self.class_weights, "invert_balance": self.invert_balance,
                "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="liverseg")
class JointLoss(keras.losses.Loss):
    """Joint liver + tumour loss of Gruber et al., eq. 2.1, on a 2-channel sigmoid output.

    Channel 0 is the liver probability (target A: label >= 1), channel 1 the
    tumour probability (target B: label == 2). loss = c * L(liver) +
    (1 - c) * L(tumour), with L the `inner` loss (default: plain binary
    cross-entropy, `BalancedCrossentropy()`; any loss object or Keras loss
    name). With `mask_tumour_target=True` the tumour target is multiplied by
    the thresholded liver prediction, M_theta(X) B of eq. 2.1 (no gradient
    flows through the mask); a per-image balanced inner loss still takes its
    tumour fraction from the unmasked B (eq. 2.3).
    """

    def __init__(self, c=0.5, inner=None, mask_tumour_target=False, liver_threshold=0.5,
                 name="joint_loss", reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if not 0.0 <= float(c) <= 1.0:
            raise OptionError(f"c must lie in [0, 1], got {c}")
        self.c = float(c)
        if inner is None:
            inner = BalancedCrossentropy()
        elif isinstance(inner, (str, dict)):
            inner = keras.losses.get(inner)
        self.inner = inner
        self.mask_tumour_target = bool(mask_tumour_target)
        self.liver_threshold = float(liver_threshold)

    def _inner(self, y_true, y_pred, fraction_of=None):
        if isinstance(self.inner, BalancedCrossentropy):
            values = self.inner.call(y_true, y_pred, fraction_of=fraction_of)
        elif isinstance(self.inner, keras.losses.Loss):
            values = self.inner.call(y_true, y_pred)
        else:
            values = self.inner(y_true, y_pred)
        values = ops.cast(values, "float32")
        # Reduce whatever the inner loss returns to one value per image (or a scalar).
        while len(values.shape) > 1:
            values = ops.mean(values, axis=-1)
        return values

    def call(self, y_true, y_pred):
        y_true, y_pred = _as_float32(y_true, y_pred)
        if int(y_pred.shape[-1]) != 2:
            raise OptionError(f"JointLoss needs a 2-channel output (liver, tumour), got {y_pred.shape[-1]}")
        liver_t, tumour_t = y_true[..., 0:1], y_true[..., 1:2]
        liver_p, tumour_p = y_pred[..., 0:1], y_pred[..., 1:2]
        tumour_b = tumour_t  # B_k: a balanced inner loss counts its fraction here (eq. 2.3)
        if self.mask_tumour_target:
            mask = ops.cast(ops.stop_gradient(liver_p) > self.liver_threshold, "float32")
            tumour_t = tumour_t * mask
        return (self.c * self._inner(liver_t, liver_p)
                + (1.0 - self.c) * self._inner(tumour_t, tumour_p, fraction_of=tumour_b))

    def get_config(self):
        return {**super().get_config(), "dtype": self.dtype, "c": self.c,
                "inner": keras.saving.serialize_keras_object(self.inner),
                "mask_tumour_target": self.mask_tumour_target, "liver_threshold": self.liver_threshold}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("inner"), dict):
            config["inner"] = keras.saving.deserialize_keras_object(config["inner"])
        return cls(**config)


@keras.saving.register_keras_serializable(package="liverseg")
class DiceBCELoss(keras.losses.Loss):
    """dice_weight * DiceLoss + bce_weight * binary cross-entropy (mean over pixels), on sigmoid outputs.

    The Dice term follows `DiceLoss(smooth=smooth, per_image=per_image)`; the
    cross-entropy term is `BalancedCrossentropy()` (unweighted).
    """

    def __init__(self, dice_weight=1.0, bce_weight=1.0, smooth=1.0, per_image=False, name="dice_bce_loss",
                 reduction="sum_over_batch_size", dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.dice_weight, self.bce_weight = float(dice_weight), float(bce_weight)
        self.smooth, self.per_image = float(smooth), bool(per_image)
        self._dice = DiceLoss(smooth=self.smooth, per_image=self.per_image)
        self._bce = BalancedCrossentropy()

    def call(self, y_true, y_pred):
        y_true, y_pred = _as_float32(y_true, y_pred)
        return (self.dice_weight * self._dice.call(y_true, y_pred)
                + self.bce_weight * self._bce.call(y_true, y_pred))

    def get_config(self):
        return {**super().get_config(), "dtype": self.dtype, "dice_weight": self.dice_weight,
                "bce_weight": self.bce_weight, "smooth": self.smooth, "per_image": self.per_image}


def deep_supervision_weights(n, scheme="halving"):
    """Weights of `n` outputs of a deeply supervised model, main (full-resolution) output first,
    summing to 1. "equal": 1/n each; "halving": proportional to 1, 1/2, 1/4, ... (each
    coarser decoder output counts half the previous one).
    """
    if int(n) < 1:
        raise OptionError(f"deep supervision needs at least one output, got {n}")
    if scheme == "equal":
        raw = [1.0] * int(n)
    elif scheme == "halving":
        raw = [0.5 ** i for i in range(int(n))]
    else:
        raise OptionError(f"deep supervision scheme must be 'halving' or 'equal', got {scheme!r}")
    total = sum(raw)
    return [w / total for w in raw]


def deep_supervision_loss_weights(output_names, scheme="halving"):
    """`loss_weights` dict for `model.compile` of a multi-output model, keyed by output name,
    main output first (see `deep_supervision_weights`)."""
    names = list(output_names)
    return dict(zip(names, deep_supervision_weights(len(names), scheme)))
