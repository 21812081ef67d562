"""The paper runner: a method describes itself (its `Paper`), the runner does the rest: the run directory, data, stages, inference, evaluation, report, expected scores, and cross-validation folds."""
