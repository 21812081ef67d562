"""The paper runner: a paper describes itself (`PaperSpec`), the runner does the rest (run directory, data, stages, inference, evaluation, report, expected scores)."""
