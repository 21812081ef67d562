"""Gong et al. as the paper runner sees it (registered as `gong` in the `liverseg.papers` entry points)."""
from liverseg.runner.paper import Paper

from experiments.gong import data, paper, predict, stages
from experiments.gong.config import GongConfig, get_config


class Gong(Paper):
    name = "gong"
    title = paper.TITLE
    config_class = GongConfig
    get_config = staticmethod(get_config)
    # 3: LiTS. MSD Task03_Liver is LiTS repackaged; 3D-IRCADb patients carry the same labels.
    variants = tuple(predict.VARIANTS)  # "crop" (the method) first: the default variant
    claimed = paper.CLAIMED
    paper_rows = tuple(paper.PAPER_ROWS)
    our_rows, notes = staticmethod(paper.our_rows), staticmethod(paper.notes)

    def stages(self, ctx):
        return stages.stages(ctx.cfg)

    def split(self, ctx, table):
        return data.choose_split(table, ctx.cfg, ctx.cfg.seed)

    def variant_stages(self, ctx, variant):
        return ("coarse", predict.VARIANTS[variant])

    def predictor(self, ctx, variant):
        self.check_variant(variant)
        return predict.GongCascade.from_run(ctx.run_dir, ctx.cfg, variant)


PAPER = Gong()
