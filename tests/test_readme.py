"""Every figure of a README comes from a file: the generated blocks agree with expected_scores.json and
benchmarks/RESULTS.md, and a paper README's Results section holds no figure outside them."""
from __future__ import annotations

import re

import pytest

from liverseg.errors import InputError
from liverseg.runner import readme as gen


@pytest.fixture(scope="module")
def readmes():
    return gen.readmes()


def test_every_readme_agrees_with_its_files(readmes):
    assert gen.stale() == [], "run `make readme`"
    names = {path.parent.name for path, _, _ in readmes}
    assert {"gong", "gruber", "li_dalunet", "liu_crunet", "bi_cascaded_resnet"} <= names


def test_a_stored_score_that_changes_makes_its_readme_stale(readmes):
    path, expected, where = next(r for r in readmes if r[0].parent.name == "gruber")
    text = path.read_text()
    assert gen.render(text, expected, readme=path, expected_where=where) == text
    key = next(iter(expected["scores"]))
    changed = {**expected, "scores": {**expected["scores"], key: expected["scores"][key] + 0.1}}
    assert gen.render(text, changed, readme=path, expected_where=where) != text
    assert f"{expected['scores'][key]:.4f}" in text  # the stored value itself is in the README


def test_a_results_section_that_changes_makes_its_readme_stale(readmes):
    path = readmes[0][0]  # the project README quotes the test and comparison times
    text = path.read_text()
    results = gen.RESULTS.read_text()
    assert gen.render(text, None, readme=path, results_text=results) == text
    assert gen.render(text, None, readme=path, results_text=results.replace("12 min 28 s", "9 min 1 s")) != text
    with pytest.raises(InputError, match="no section"):
        gen.results_section(results, "## No such section")


def _outside_blocks(text: str) -> str:
    return gen.BLOCK.sub("", text)


def test_paper_results_sections_hold_figures_only_in_generated_blocks(readmes):
    for path, _, _ in readmes[1:]:
        text = path.read_text()
        assert "\n## Results\n" in text and "<!-- generated: expected_scores -->" in text, path
        results = _outside_blocks(text.split("\n## Results\n", 1)[1])
        typed = re.findall(r"\b\d+\.\d+\b|\b\d+ min\b", results)
        assert not typed, f"{path}: figures typed by hand in Results: {typed}"


def test_project_readme_times_come_from_results(readmes):
    text = _outside_blocks(readmes[0][0].read_text())
    assert not re.findall(r"\b\d+ min(?:utes)?\b", text), "a time in README.md typed by hand"


def test_every_paper_readme_states_its_precision(readmes):
    for path, _, _ in readmes[1:]:
        deviations = path.read_text().split("## Deviations and choices", 1)[1].split("\n## ", 1)[0]
        assert "mixed_float16" in deviations and "stays float32" in deviations, path


def test_a_paper_registered_at_run_time_is_not_taken_for_a_readme():
    # a test's stub paper (registered, not installed) has no README; the list must not depend on
    # which test ran before in the same process
    from tests.stub_run import SPEC
    from liverseg.registry import _registered, register

    register(SPEC)
    try:
        paths = [path for path, _, _ in gen.readmes()]
        assert all(path.is_file() for path in paths), paths
        assert SPEC.name not in {path.parent.name for path in paths}
    finally:
        _registered.pop(SPEC.name, None)
