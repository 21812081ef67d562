"""The command line as people expect it: --version, python -m liverseg, make help, prep's defaults as the
README gives them, runs and caches in the working directory, one line for a bad --out / --output or a
damaged checkpoint, and a LICENSE that matches setup.cfg."""
from __future__ import annotations

import configparser
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def test_version_and_python_dash_m(capsys):
    from liverseg import __version__
    from liverseg.cli.main import main

    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0 and capsys.readouterr().out.strip() == f"liverseg {__version__}"
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    result = subprocess.run([sys.executable, "-m", "liverseg", "--version"], capture_output=True, text=True,
                            cwd=REPO, env=env, timeout=300)
    assert result.returncode == 0 and result.stdout.strip() == f"liverseg {__version__}", result.stderr


def test_make_help_lists_the_targets():
    result = subprocess.run(["make", "-s", "help"], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert result.returncode == 0, result.stderr
    for target in ("make reproduce-gong", "make compare", "make test", "make readme", "make help"):
        assert target in result.stdout


def test_prep_defaults_agree_with_the_readme():
    import argparse

    from liverseg.cli import prep

    parser = argparse.ArgumentParser()
    prep.configure(parser)
    defaults = {a.dest: a.default for a in parser._actions}
    line = next(l for l in (REPO / "README.md").read_text().splitlines() if l.startswith("liverseg prep "))
    shown = dict(re.findall(r"\[--(profile|jobs) (\w+)\]", line))
    assert shown == {"profile": defaults["profile"], "jobs": str(defaults["jobs"])}
    assert f"{defaults['profile']} (default" in " ".join(parser.format_help().split())


def test_runs_and_caches_default_to_the_working_directory(monkeypatch, tmp_path):
    from liverseg.runner.data import cache_root
    from liverseg.runner.options import runs_root

    monkeypatch.delenv("LIVERSEG_RUNS_DIR", raising=False)
    monkeypatch.delenv("LIVERSEG_CACHE_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    assert runs_root().resolve() == tmp_path / "runs" and cache_root().resolve() == tmp_path / ".cache"
    monkeypatch.setenv("LIVERSEG_RUNS_DIR", str(tmp_path / "elsewhere"))
    assert runs_root() == tmp_path / "elsewhere"


def test_output_folder_that_is_a_file_or_unwritable(tmp_path):
    from liverseg.errors import InputError
    from liverseg.io.atomic import check_output_folder

    taken = tmp_path / "taken"
    taken.write_text("x")
    with pytest.raises(InputError, match="--out: exists and is not a folder"):
        check_output_folder(taken, "--out")
    with pytest.raises(InputError, match="is a file"):
        check_output_folder(taken / "a" / "b", "--output")
    assert check_output_folder(tmp_path / "new" / "deeper") == tmp_path / "new" / "deeper"
    assert not (tmp_path / "new").exists()  # nothing created
    if os.geteuid() != 0:  # root writes anywhere
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        with pytest.raises(InputError, match="not writable"):
            check_output_folder(locked / "out")


def test_prep_refuses_an_output_that_is_a_file(tmp_path, capsys):
    """Through the command's own parser and the CLI's error handling (without TensorFlow's start-up)."""
    from liverseg.cli import prep
    from liverseg.commands import OneLineParser, invoke

    taken = tmp_path / "cache.txt"
    taken.write_text("x")
    parser = OneLineParser(prog="liverseg prep")
    prep.configure(parser)
    args = parser.parse_args(["--dataset", "phantom", "--input", str(tmp_path), "--output", str(taken),
                              "--paper", "gong"])
    code = invoke("liverseg prep", prep.run, args)
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "cache.txt" in err and "not a folder" in err


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated", b"\x00" * 64])
def test_damaged_checkpoint_says_damaged(tmp_path, content):
    from liverseg.errors import InputError
    from liverseg.io.checkpoints import load_model

    path = tmp_path / "best.keras"
    path.write_bytes(content)
    with pytest.raises(InputError, match="damaged Keras model file") as err:
        load_model(path)
    assert "not found" not in str(err.value) and err.value.path == str(path)
    with pytest.raises(InputError, match="model file not found"):
        load_model(tmp_path / "missing.keras")


def test_license_matches_setup_cfg():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    assert cfg["metadata"]["license"] == "Apache-2.0"
    text = (REPO / "LICENSE").read_text()
    assert "Apache License" in text and "Version 2.0, January 2004" in text and "END OF TERMS AND CONDITIONS" in text
