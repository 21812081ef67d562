"""Gruber et al. as the paper runner sees it (registered as `gruber` in the `liverseg.papers` entry points)."""
from liverseg.runner.paper import Paper

from experiments.gruber import paper, predict, slices, stages
from experiments.gruber.config import GruberConfig, get_config


class Gruber(Paper):
    name = "gruber"
    title = paper.TITLE
    config_class = GruberConfig
    get_config = staticmethod(get_config)
    # 3.1: LiTS. MSD Task03_Liver is LiTS repackaged; 3D-IRCADb patients carry the same labels.
    variants = predict.VARIANTS  # "sequential" first: the default variant
    claimed = paper.CLAIMED
    paper_rows = tuple(paper.PAPER_ROWS)
    expected_keys = ("liver_dice_per_case", "liver_dice_global", "tumour_dice_per_case", "tumour_dice_global",
                     "slice_liver_iou", "slice_tumour_iou", "train_slice_tumour_iou")
    # split: the default. 3.1 draws 765 / 50 / 50 slices; CHOICE: from patients kept apart (the paper
    # does not say it splits by patient; slices of one patient on both sides would leak), seeded,
    # stratified by tumour presence so that validation and test hold tumour slices
    our_rows, notes = staticmethod(paper.our_rows), staticmethod(paper.notes)
    calibrate, extra_evaluation = staticmethod(slices.calibrate), staticmethod(slices.extra_evaluation)

    def stages(self, ctx):
        return stages.stages(ctx.cfg)

    def variant_stages(self, ctx, variant):
        return (predict.variant_stage(ctx.cfg, variant),)

    def predictor(self, ctx, variant):
        self.check_variant(variant)
        return predict.GruberPredictor.from_run(ctx.run_dir, ctx.cfg, variant)


PAPER = Gruber()
