"""Run reports: `report.md` / `metrics.json` tables and plots."""
