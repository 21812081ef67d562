"""Li et al. as the paper runner sees it (registered as `li_dalunet` in the `liverseg.papers` entry points)."""
from liverseg.runner.paper import Paper

from experiments.li_dalunet import figures, paper, predict, stages
from experiments.li_dalunet.config import VARIANTS, LiConfig, get_config


class Li(Paper):
    name = "li_dalunet"
    title = paper.TITLE
    config_class = LiConfig
    get_config = staticmethod(get_config)
    # III-A: 3D-IRCADb-01. LiTS (and MSD Task03_Liver, LiTS repackaged) holds those 20 patients too.
    datasets = ("phantom", "ircadb", "lits", "msd")
    variants = VARIANTS  # "dalunet" first: the default variant
    claimed = paper.CLAIMED
    paper_rows = tuple(paper.PAPER_ROWS)
    overlay_column = "liver_dice"
    expected_keys = ("liver_dice_per_case", "liver_dice_global", "tumour_dice_per_case", "tumour_dice_global",
                     "tumour_free_slice_specificity")
    predictor_class = predict.LiPredictor
    # split: the default, III-A gives none. CHOICE: `cfg.val_patients` / `cfg.test_patients` patients
    # (3 / 3 of 20: 14 / 3 / 3), seeded, stratified by tumour presence

    def stages(self, ctx):
        return stages.stages(ctx.cfg)

    our_rows, notes = staticmethod(paper.our_rows), staticmethod(paper.notes)
    extra_evaluation = staticmethod(figures.extra_evaluation)


PAPER = Li()
