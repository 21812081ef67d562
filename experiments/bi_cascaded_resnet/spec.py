"""Bi et al. as the paper runner sees it (registered as `bi_cascaded_resnet` in the `liverseg.papers` entry points)."""
from liverseg.runner.paper import Paper

from experiments.bi_cascaded_resnet import data, figures, paper, predict, stages
from experiments.bi_cascaded_resnet.config import VARIANTS, BiConfig, get_config


class Bi(Paper):
    name = "bi_cascaded_resnet"
    title = paper.TITLE
    config_class = BiConfig
    get_config = staticmethod(get_config)
    # 2.1: LiTS. MSD Task03_Liver is LiTS repackaged; 3D-IRCADb patients carry the same labels.
    variants = VARIANTS  # "cascade_ms" first: the default variant
    claimed = paper.CLAIMED
    paper_rows = tuple(paper.PAPER_ROWS)
    # the lesion's guard on the smoke profile is its slice specificity: a few dozen steps at 48 px learn
    # no phantom lesion (lesion Dice 0 in every seed, a band that would reach zero); see README
    expected_keys = ("liver_dice_per_case", "liver_dice_global", "tumour_free_slice_specificity")
    predictor_class = predict.BiPredictor
    our_rows, notes = staticmethod(paper.our_rows), staticmethod(paper.notes)
    extra_evaluation = staticmethod(figures.extra_evaluation)

    def stages(self, ctx):
        return stages.stages(ctx.cfg)

    def split(self, ctx, table):
        return data.choose_split(table, ctx.cfg, ctx.cfg.seed)

    def variant_stages(self, ctx, variant):
        return (predict.STAGE_OF[variant],)


PAPER = Bi()
