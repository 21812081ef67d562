"""benchmarks/gpu_throughput.py: a smoke-profile run on the CPU under JAX with TensorFlow unimportable
(as on a GPU machine with JAX alone), its imports, and the largest-batch search and ratios on fakes."""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from argparse import Namespace
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "gpu_throughput.py"
PAPERS = ("gruber", "bi_cascaded_resnet")  # the two cheapest smoke profiles to compile on a CPU
# `import tensorflow` raises ImportError once its entry in sys.modules is None
NO_TENSORFLOW = "import sys; sys.modules['tensorflow'] = None\n"


def _load():
    """The script as a module (its helpers import nothing heavy until called)."""
    if "gpu_throughput" not in sys.modules:
        spec = importlib.util.spec_from_file_location("gpu_throughput", SCRIPT)
        sys.modules[spec.name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules["gpu_throughput"]


def _run(code: str, timeout: int) -> subprocess.CompletedProcess:
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=timeout)


def _stage_names(paper: str) -> list[str]:
    spec = importlib.import_module(f"experiments.{paper}.paper").PAPER
    return [stage.name for stage in spec.stages(spec.context(spec.get_config("smoke")))]


@pytest.mark.slow
@pytest.mark.process
def test_smoke_run_measures_every_stage_without_tensorflow(tmp_path):
    out = tmp_path / "gpu.json"
    argv = [str(SCRIPT), "--profile", "smoke", "--papers", ",".join(PAPERS), "--policies", "float32",
            "--steps", "2", "--warmup", "1", "--lead-batches", "", "--volume-slices", "8",
            # quicker XLA compilation on the CPU (and the flag reaches XLA before JAX starts)
            "--xla-flags=--xla_backend_optimization_level=1", "--json", str(out)]
    code = NO_TENSORFLOW + f"import runpy; sys.argv = {argv!r}; runpy.run_path({str(SCRIPT)!r}, run_name='__main__')"
    result = _run(code, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "forward pass only" in result.stdout

    data = json.loads(out.read_text())
    assert {"profile", "machine", "settings", "training", "volume", "ratios", "skipped", "max_batch"} <= set(data)
    assert data["machine"]["backend"] == "jax" and data["machine"]["devices"] and data["machine"]["keras"]
    assert "--xla_backend_optimization_level=1" in data["machine"]["xla_flags"]
    assert data["skipped"] == [] and data["ratios"] == []  # one policy: nothing to divide by
    for paper in PAPERS:
        rows = {r["stage"]: r for r in data["training"] if r["paper"] == paper}
        assert list(rows) == _stage_names(paper)
        volume = {r["stage"]: r for r in data["volume"] if r["paper"] == paper}
        for stage, row in rows.items():
            measured = rows[row.get("same_as", stage)]
            assert {"paper", "stage", "policy", "batch", "slices_per_s", "peak_bytes", "compile_s",
                    "program_bytes"} <= set(measured), (paper, stage)
            assert measured["policy"] == "float32" and measured["batch"] >= 1
            assert measured["slices_per_s"] > 0 and measured["compile_s"] > 0 and measured["program_bytes"] > 0
            assert measured["peak_bytes"] is None  # no accelerator: no device memory statistics
            if "same_as" not in row:
                assert volume[stage]["seconds_per_volume"] > 0 and volume[stage]["slices"] == 8
    # Gruber's alpha fine-tunings are its U-Net B trained again: measured once
    assert {r["stage"]: r.get("same_as") for r in data["training"]}["tumour_alpha0.02"] == "tumour"


def test_imports_no_tensorflow_under_jax(tmp_path):
    out = tmp_path / "gpu.json"
    code = (f"import sys; sys.path.insert(0, {str(SCRIPT.parent)!r})\n"
            "import gpu_throughput\n"
            f"gpu_throughput.main(['--profile', 'smoke', '--budget-s', '0', '--json', {str(out)!r}])\n"
            "import liverseg.infer.predict, liverseg.train.optimizers  # imported by the measurements\n"
            "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'tensorflow')\n"
            "assert not loaded, loaded\n"
            "assert 'keras' in sys.modules and 'experiments.bi_cascaded_resnet.paper' in sys.modules\n")
    result = _run(code, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["training"] == [] and len(data["skipped"]) == sum(len(_stage_names(p)) for p in _load().PAPERS) * 3


def test_is_oom_names_out_of_memory_errors():
    g = _load()
    assert g.is_oom(RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate 1.2GiB"))
    assert g.is_oom(type("ResourceExhaustedError", (Exception,), {})("OOM when allocating tensor"))
    assert not g.is_oom(ValueError("incompatible shapes for broadcasting"))


class _Job:
    paper, policy, batch = "p", "float32", 8
    stage = Namespace(name="s")
    row = {"paper": "p", "stage": "s", "policy": "float32"}

    def name(self, what=""):
        return f"p/s/float32/{what}"

    def build(self):
        return object(), 0.0


def _bench(g, tmp_path, earlier: list[dict], cap=64, budget=60.0):
    args = Namespace(batch_cap=cap, budget_s=budget, json=tmp_path / "b.json", profile="smoke")
    bench = g.Bench(args, machine={})
    bench.out["training"] = [{**_Job.row, **r} for r in earlier]
    return bench


@pytest.mark.parametrize("fits, cap, earlier, expected, tried", [
    (32, 64, [{"batch": 8}], 32, [16, 32, 64]),  # stops at the first out-of-memory batch
    (32, 16, [{"batch": 8}], 16, [16]),  # the cap
    (999, 64, [{"batch": 8}, {"batch": 16}], 64, [32, 64]),  # batch 16 was measured already (lead batch)
    (32, 64, [{"batch": 8, "oom": True}], None, []),  # the stage's own batch did not fit
])
def test_max_batch_search_doubles_until_out_of_memory(tmp_path, monkeypatch, fits, cap, earlier, expected, tried):
    g = _load()
    calls = []

    def fake_train_row(bench, model, job, batch):
        calls.append(batch)
        row = {**job.row, "batch": batch, **({"oom": True} if batch > fits else {"slices_per_s": 1.0})}
        bench.out["training"].append(row)
        return row

    monkeypatch.setattr(g, "train_row", fake_train_row)
    bench = _bench(g, tmp_path, earlier, cap=cap)
    g.search_max_batch(bench, [_Job()])
    assert calls == tried
    assert bench.out["max_batch"] == [{**_Job.row, "max_batch": expected, "cap": cap}]
    assert json.loads((tmp_path / "b.json").read_text())["max_batch"][0]["max_batch"] == expected


def test_ratios_pair_mixed_with_float32_at_the_same_batch():
    g = _load()
    rows = [{"paper": "p", "stage": "s", "batch": 4, "policy": "float32", "slices_per_s": 100.0, "program_bytes": 200},
            {"paper": "p", "stage": "s", "batch": 4, "policy": "mixed_bfloat16", "slices_per_s": 250.0,
             "program_bytes": 100},
            {"paper": "p", "stage": "s", "batch": 16, "policy": "mixed_float16", "slices_per_s": 300.0},
            {"paper": "p", "stage": "s", "batch": 4, "policy": "mixed_float16", "oom": True}]
    assert g.ratios(rows) == [{"paper": "p", "stage": "s", "batch": 4, "policy": "mixed_bfloat16",
                               "speedup": 2.5, "program_bytes_ratio": 0.5}]
