"""One smoke run per paper, shared by its end-to-end tests, all on one cached phantom (a session
temp dir), and the regression check every paper's tests apply to its run."""
from __future__ import annotations

import os

import pytest

from liverseg.registry import paper as get_paper
from liverseg.runner.run import reproduce


@pytest.fixture(scope="session")
def gong_cache_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("liverseg-cache")
    os.environ["LIVERSEG_CACHE_DIR"] = str(path)
    return path


def _smoke_run(paper: str, tmp_path_factory):
    """A finished smoke-profile run (seed 0) of `paper`, through the runner's `reproduce`."""
    run_dir = tmp_path_factory.mktemp(f"{paper}-smoke") / "run"
    assert reproduce(get_paper(paper), ["--profile", "smoke", "--seed", "0", "--run-dir", str(run_dir)]) == 0
    return run_dir


@pytest.fixture(scope="session")
def gong_smoke_run(tmp_path_factory, gong_cache_dir):
    return _smoke_run("gong", tmp_path_factory)


@pytest.fixture(scope="session")
def gruber_smoke_run(tmp_path_factory, gong_cache_dir):
    return _smoke_run("gruber", tmp_path_factory)


@pytest.fixture(scope="session")
def li_smoke_run(tmp_path_factory, gong_cache_dir):
    """The four networks of Li's Table I."""
    return _smoke_run("li_dalunet", tmp_path_factory)


@pytest.fixture(scope="session")
def liu_smoke_run(tmp_path_factory, gong_cache_dir):
    """The six rows of Liu's Table I we train."""
    return _smoke_run("liu_crunet", tmp_path_factory)


@pytest.fixture(scope="session")
def bi_smoke_run(tmp_path_factory, gong_cache_dir):
    """The four Table 2 rows we run (three trainings)."""
    return _smoke_run("bi_cascaded_resnet", tmp_path_factory)


@pytest.fixture(scope="session")
def unet_baseline_smoke_run(tmp_path_factory, gong_cache_dir):
    """The sixth method: one U-Net."""
    return _smoke_run("unet_baseline", tmp_path_factory)
