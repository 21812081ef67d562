"""One smoke run of Gong shared by the end-to-end tests (phantom cached under a session temp dir)."""
from __future__ import annotations

import os

import pytest


@pytest.fixture(scope="session")
def gong_cache_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("liverseg-cache")
    os.environ["LIVERSEG_CACHE_DIR"] = str(path)
    return path


@pytest.fixture(scope="session")
def gong_smoke_run(tmp_path_factory, gong_cache_dir):
    """A finished smoke-profile run (seed 0)."""
    from experiments.gong.reproduce import main

    run_dir = tmp_path_factory.mktemp("gong-smoke") / "run"
    assert main(["--profile", "smoke", "--seed", "0", "--run-dir", str(run_dir)]) == 0
    return run_dir


@pytest.fixture(scope="session")
def gruber_smoke_run(tmp_path_factory, gong_cache_dir):
    """A finished Gruber smoke-profile run (seed 0), on the same cached phantom."""
    from experiments.gruber.reproduce import main

    run_dir = tmp_path_factory.mktemp("gruber-smoke") / "run"
    assert main(["--profile", "smoke", "--seed", "0", "--run-dir", str(run_dir)]) == 0
    return run_dir


@pytest.fixture(scope="session")
def li_smoke_run(tmp_path_factory, gong_cache_dir):
    """A finished Li smoke-profile run (seed 0): the four networks of Table I, on the same cached phantom."""
    from experiments.li_dalunet.reproduce import main

    run_dir = tmp_path_factory.mktemp("li-smoke") / "run"
    assert main(["--profile", "smoke", "--seed", "0", "--run-dir", str(run_dir)]) == 0
    return run_dir


@pytest.fixture(scope="session")
def liu_smoke_run(tmp_path_factory, gong_cache_dir):
    """A finished Liu smoke-profile run (seed 0): the six Table I rows we train, on the same cached phantom."""
    from experiments.liu_crunet.reproduce import main

    run_dir = tmp_path_factory.mktemp("liu-smoke") / "run"
    assert main(["--profile", "smoke", "--seed", "0", "--run-dir", str(run_dir)]) == 0
    return run_dir
