"""The baseline as the runner sees it: one stage, the shared slice predictor, the default split."""
from liverseg.infer.slice_predictor import SlicePredictor
from liverseg.nn.models import build_unet
from liverseg.runner.paper import Paper

from experiments.unet_baseline.config import BaselineConfig


def build_model(cfg: BaselineConfig):
    net, size = cfg.net, cfg.preprocess.size
    return build_unet((size, size, 1), n_outputs=len(cfg.outputs), base_filters=net.base_filters, depth=net.depth,
                      dropout=net.dropout, max_filters=net.max_filters, bn_momentum=net.bn_momentum, name="unet")


class Baseline(Paper):
    name = "unet_baseline"
    title = "A plain 2D U-Net (Ronneberger et al. 2015) with nnU-Net-2D-like defaults (Isensee et al. 2021)"
    config_class = BaselineConfig
    variants = ("unet",)
    predictor_class = SlicePredictor

    def stages(self, ctx):
        return [self.stage(ctx, "unet", lambda: build_model(ctx.cfg))]


PAPER = Baseline()
