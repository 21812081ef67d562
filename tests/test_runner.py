"""The paper runner's pieces that need no training: options, dataset refusal, registry, split file."""
from __future__ import annotations

import argparse
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from liverseg.config import PreprocessConfig, RunConfig
from liverseg.errors import OptionError
from liverseg.registry import paper, papers
from liverseg.runner.data import case_number
from liverseg.runner.options import add_arguments, resolve_config

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class TinyConfig(RunConfig):
    preprocess: PreprocessConfig = PreprocessConfig()


def _spec(datasets=("phantom", "lits")):
    """Gong's hooks with a tiny config, named "tiny", accepting `datasets`."""
    gong = type(paper("gong"))
    tiny = type("Tiny", (gong,), {"name": "tiny", "datasets": datasets, "config_class": TinyConfig,
                                  "get_config": lambda self, profile: TinyConfig(profile=profile)})
    return tiny()


def _args(spec, argv):
    return add_arguments(argparse.ArgumentParser(), spec).parse_args(argv)


def test_a_dataset_the_paper_does_not_accept_is_one_clear_error(tmp_path):
    spec = _spec()
    with pytest.raises(OptionError, match=r"tiny does not accept dataset 'ircadb' \(it accepts: phantom, lits\)"):
        resolve_config(spec, _args(spec, ["--data-dir", str(tmp_path), "--dataset", "ircadb"]))


def test_data_dir_defaults_to_lits_and_dataset_needs_a_folder(tmp_path):
    spec = _spec()
    cfg = resolve_config(spec, _args(spec, ["--data-dir", str(tmp_path), "--seed", "3"]))
    assert (cfg.dataset, cfg.data_dir, cfg.seed) == ("lits", str(tmp_path.resolve()), 3)
    assert resolve_config(spec, _args(spec, [])).dataset == "phantom"
    with pytest.raises(OptionError, match="--dataset lits needs --data-dir"):
        resolve_config(spec, _args(spec, ["--dataset", "lits"]))
    with pytest.raises(OptionError, match="not a folder"):
        resolve_config(spec, _args(spec, ["--data-dir", str(tmp_path / "missing")]))


def test_set_overrides_reach_the_config(tmp_path):
    spec = _spec()
    cfg = resolve_config(spec, _args(spec, ["--set", "preprocess.size=96", "--set", "phantom.cases=5"]))
    assert cfg.preprocess.size == 96 and cfg.phantom.cases == 5


def test_registry_lists_the_installed_papers_and_refuses_unknown_ones():
    assert "gong" in papers() and paper("gong").name == "gong"
    with pytest.raises(OptionError, match="unknown paper 'nope'; known papers: .*gong"):
        paper("nope")


@pytest.mark.parametrize("case_id, number", [("lits-12", "12"), ("msd-3", "3"), ("ircadb-1.17", "17"),
                                             ("phantom-0", "0")])
def test_case_numbers_of_every_source(case_id, number):
    assert case_number(case_id) == number


def test_liverseg_reproduce_refuses_an_unknown_dataset_in_one_line(tmp_path):
    result = subprocess.run([sys.executable, "-m", "liverseg.cli.main", "reproduce", "gong", "--dataset", "kits",
                             "--data-dir", str(tmp_path)], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "kits" in result.stderr


class _Cases:
    case_ids = ["a", "b", "c", "d"]


def _split_file(tmp_path, **parts) -> Path:
    import json

    path = tmp_path / "split.json"
    path.write_text(json.dumps(parts))
    return path


def test_a_given_split_file_is_the_runs_split_and_a_resumed_run_must_agree(tmp_path):
    from liverseg.io.atomic import read_json
    from liverseg.runner.data import make_split

    given = _split_file(tmp_path, train=["a", "b"], val=["c"], test=["d"])
    run = tmp_path / "run"
    run.mkdir()
    split = make_split(_spec(), _Cases(), TinyConfig("smoke"), run, 0.1, split_file=given)
    assert (split["train"], split["val"], split["test"], split["mode"]) == (["a", "b"], ["c"], ["d"], "patients")
    assert read_json(run / "split.json")["test"] == ["d"]
    other = tmp_path / "other"
    other.mkdir()
    moved = _split_file(other, train=["a", "d"], val=["c"], test=["b"])
    with pytest.raises(OptionError, match="split otherwise"):
        make_split(_spec(), _Cases(), TinyConfig("smoke"), run, 0.1, split_file=moved)


@pytest.mark.parametrize("parts, problem", [
    ({"train": ["a"], "val": [], "test": ["z"]}, "not in the data"),
    ({"train": ["a", "b"], "val": ["b"], "test": ["c"]}, "in two of"),
    ({"train": ["a"], "val": []}, "needs lists"),
])
def test_a_bad_split_file_is_refused_naming_the_file(tmp_path, parts, problem):
    from liverseg.runner.data import read_split_file

    path = _split_file(tmp_path, **parts)
    with pytest.raises(OptionError, match=problem) as error:
        read_split_file(path, _Cases.case_ids)
    assert str(path) in str(error.value)
