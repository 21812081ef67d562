"""The regression check every paper's smoke run must pass, and fail when a stored score is raised."""
from __future__ import annotations

from liverseg.io.atomic import read_json
from liverseg.runner.expected import compare, run_scores


def assert_guarded(spec, run_dir) -> tuple[dict, dict]:
    """The run is within the stored bands, every guarded band stays above 0, and raising any one
    stored score makes the check fail on exactly that key. Returns (expected, the run's scores)."""
    expected = read_json(spec.expected_path)
    got = run_scores(spec, read_json(run_dir / "metrics.json"))
    assert compare(expected, got) == []
    assert read_json(run_dir / "done.json")["expected_check"]["ok"]
    assert all(expected["scores"][k] - expected["tolerance"][k] > 0 for k in expected["scores"])
    for key in expected["scores"]:
        assert [f.split()[0] for f in compare(raised(expected, got, (key,)), got)] == [key]
    return expected, got


def raised(expected: dict, got: dict, keys) -> dict:
    """`expected` with the stored scores of `keys` raised above the run's by twice their tolerance."""
    scores = {k: (got[k] + 2 * expected["tolerance"][k] if k in keys else v) for k, v in expected["scores"].items()}
    return {**expected, "scores": scores}
