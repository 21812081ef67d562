"""Training: `fit()` with precision policy, distribution strategy, callbacks, schedules, seeds and history."""
