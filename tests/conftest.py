"""Shared fixtures: paths to the real samples in ../shared/data and a CPU-only, quiet TensorFlow."""
from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("LIVERSEG_SHARED_DATA", REPO.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real CT samples beside the project (../shared/data); tests marked `realdata` use them."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real CT samples not found at {SHARED_DATA} (set LIVERSEG_SHARED_DATA)")
    return SHARED_DATA
