"""Training on any Keras backend: `fit()` (fit.py) and its parts.

- `fit.py`: `fit()`, one stage in `run_dir/<stage>/`; re-exports the names below that callers import from it.
- `stage.py`: the stage folder, skip / resume decisions, done.json (`StageResult`).
- `callbacks.py`: atomic checkpoints, the crash-safe backup, the callback list of a stage.
- `schedules.py`, `optimizers.py`: `train.schedule` and `train.optimizer`.
- `precision.py`, `seeds.py`, `devices.py`: dtype policy, seeds and determinism, backend and GPUs.
- `distribution.py`: the strategy (multi-worker included), the chief, worker run dirs, weights digest.
- `history.py`: `history.csv`.
"""
