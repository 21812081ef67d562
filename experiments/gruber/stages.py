"""Gruber's training stages (2.4), in order: the one-step U-Net (cross-entropy, then the balanced
weights of eq. 2.4), U-Net A, U-Net B behind the frozen A (cross-entropy), one fine-tuning of that
B per alpha of eq. 2.2, and A and B trained together on the joint loss of eq. 2.1."""
from __future__ import annotations

from dataclasses import replace

from liverseg.runner.stage import Stage, training_stage

from experiments.gruber.config import GruberConfig, alpha_name
from experiments.gruber.model import CHAIN_OUTPUTS, ONESTEP_CLASSES, build_chain, build_liver, build_onestep


def tumour_stage(alpha) -> str:
    """Stage (and checkpoint folder) of U-Net B fine-tuned with one alpha of eq. 2.2."""
    return f"tumour_alpha{alpha_name(alpha)}"


def tumour_loss(cfg: GruberConfig, alpha=None):
    """Eq. 2.2 on B's output: weighted binary cross-entropy against the masked target M(X) B
    (`alpha=None`: plain cross-entropy, the first optimisation of B; "balanced" / "balanced_printed":
    eq. 2.3's per-slice alpha_k under the text's and the printed reading, see config.py)."""
    from liverseg.errors import OptionError
    from liverseg.nn.losses import BalancedCrossentropy, JointLoss

    if alpha is None:
        inner = BalancedCrossentropy()
    elif alpha in ("balanced", "balanced_printed"):
        inner = BalancedCrossentropy(per_image=True, invert_balance=alpha == "balanced_printed")
    elif isinstance(alpha, str):
        raise OptionError(f"alphas: {alpha!r} is not a number in (0, 1), 'balanced' or 'balanced_printed'")
    else:
        inner = BalancedCrossentropy(alpha=float(alpha))
    # c = 0: only B's term of eq. 2.1 (A is frozen); the target is masked by A's thresholded output
    return JointLoss(c=0.0, inner=inner, mask_tumour_target=True, liver_threshold=cfg.liver_threshold)


def joint_loss(cfg: GruberConfig):
    """Eq. 2.1: c L(A(X), A) + (1 - c) L(B(w(M X)), M B), L the (binary) cross-entropy."""
    from liverseg.nn.losses import JointLoss

    return JointLoss(c=cfg.joint_c, mask_tumour_target=True, liver_threshold=cfg.liver_threshold)


def _stage(name, build, data, train, targets, loss, init_from=None) -> Stage:
    """`data`: one DataConfig, or several mixed sample by sample with equal weights. Every loss of the
    paper is a cross-entropy of eq. 2.1-2.3, built here: `train.loss` names it ("bce") and a `--set` of
    another loss is refused rather than recorded and ignored."""
    from liverseg.errors import OptionError

    if train.loss != "bce":
        raise OptionError(f"gruber stage {name}: train.loss={train.loss!r}, but Gruber's stages train the "
                          "cross-entropies of eq. 2.1-2.3 (train.loss must stay 'bce')")

    sources = tuple(replace(d, targets=tuple(targets)) for d in (data if isinstance(data, tuple) else (data,)))
    return training_stage(name, build, train, targets, sources, loss=loss, init_from=init_from)


def stages(cfg: GruberConfig) -> list[Stage]:
    from liverseg.nn.losses import BalancedCrossentropy

    data = cfg.data  # 3.1: one slice set for every network (same policy, cap and seed)
    out = [
        _stage("onestep", lambda: build_onestep(cfg), data, cfg.onestep_train, ONESTEP_CLASSES,
               lambda: BalancedCrossentropy(categorical=True)),
        _stage("onestep_balanced", lambda: build_onestep(cfg), data, cfg.onestep_balanced_train, ONESTEP_CLASSES,
               lambda: BalancedCrossentropy(categorical=True, per_image=True), {"": "onestep"}),
        _stage("liver", lambda: build_liver(cfg), data, cfg.liver_train, ("liver",), lambda: BalancedCrossentropy()),
        _stage("tumour", lambda: build_chain(cfg, train_liver=False), cfg.tumour_data, cfg.tumour_train, CHAIN_OUTPUTS,
               lambda: tumour_loss(cfg), {"unet_a": "liver"}),
    ]
    for alpha in cfg.alphas:  # four fine-tunings of one pretrained B (2.4), not four trainings
        out.append(_stage(tumour_stage(alpha), lambda: build_chain(cfg, train_liver=False), cfg.tumour_data,
                          cfg.tumour_finetune_train, CHAIN_OUTPUTS, lambda a=alpha: tumour_loss(cfg, a),
                          {"": "tumour"}))
    # the joint model sees what A sees and what B sees (one set at the paper profile)
    joint_data = data if cfg.tumour_data == data else (data, cfg.tumour_data)
    out.append(_stage("joint", lambda: build_chain(cfg, train_liver=True, gradient=cfg.joint_gradient, name="joint"),
                      joint_data, cfg.joint_train, CHAIN_OUTPUTS, lambda: joint_loss(cfg)))
    return out
