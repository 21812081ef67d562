"""A run that records itself: everything a `reproduce` prints, on the console and in `RUN/run.log`.

`RunLog(run_dir)` is a context manager around a run. While it is open, `sys.stdout` and `sys.stderr`
are line writers that pass the text on to the console unchanged and send every finished line to the
`liverseg.run` logger, whose one handler appends it to `run.log` with a time stamp (progress bars
that redraw a line with `\\r` leave only their last state there). Quiet by default: TensorFlow's
Python logger and absl at ERROR (no retracing warnings), its C++ notices already muted at start-up
(`liverseg.commands.preload_tensorflow`, so the oneDNN banner appears once at most).

Also here: the command line of this process as a user would type it again (`command_line`), the
resume command of an interrupted run (`resume_command`), wall time per stage kept across the
sessions of a run (`StageTimes`, `timings.json`) and the machine (`hardware`).
"""
from __future__ import annotations

import datetime
import logging
import os
import platform
import shlex
import sys
import time
from pathlib import Path

from liverseg.io.atomic import atomic_write_json, read_json
from liverseg.io.run_layout import RunDir

LOGGER = "liverseg.run"


def plural(n: int, word: str) -> str:
    """"1 epoch", "2 epochs"."""
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


class _LineWriter:
    """A text stream: writes go to `stream`; each finished line is logged at `level`."""

    def __init__(self, stream, logger: logging.Logger, level: int):
        self.stream, self.logger, self.level, self.pending = stream, logger, level, ""

    def write(self, text: str) -> int:
        n = self.stream.write(text)
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            line = line.rsplit("\r", 1)[-1].rstrip()
            if line:
                self.logger.log(self.level, line)
        return len(text) if n is None else n

    def flush(self) -> None:
        self.stream.flush()

    def close_line(self) -> None:
        line = self.pending.rsplit("\r", 1)[-1].rstrip()
        if line:
            self.logger.log(self.level, line)
        self.pending = ""

    def __getattr__(self, name):  # isatty, fileno, encoding, ... of the console stream
        return getattr(self.stream, name)


def quiet_tensorflow() -> None:
    """TensorFlow's and absl's Python loggers at ERROR: no retracing or deprecation warnings."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    for name in ("tensorflow", "absl", "h5py", "matplotlib"):
        logging.getLogger(name).setLevel(logging.ERROR)
    if "tensorflow" in sys.modules:
        try:
            sys.modules["tensorflow"].get_logger().setLevel(logging.ERROR)
        except AttributeError:
            pass
    try:
        import absl.logging

        absl.logging.set_verbosity(absl.logging.ERROR)
    except ImportError:
        pass


class RunLog:
    """`with RunLog(run_dir): ...` tees the console into `run_dir/run.log` (appended: a resumed run
    adds its session below the earlier ones)."""

    def __init__(self, run_dir):
        self.path = RunDir(run_dir).log
        self.logger = logging.getLogger(LOGGER)

    def __enter__(self) -> "RunLog":
        quiet_tensorflow()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.handler = logging.FileHandler(self.path, encoding="utf-8")
        self.handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
        self.logger.addHandler(self.handler)
        self.logger.setLevel(logging.INFO)
        self.logger.propagate = False
        self.saved = sys.stdout, sys.stderr
        sys.stdout = _LineWriter(sys.stdout, self.logger, logging.INFO)
        sys.stderr = _LineWriter(sys.stderr, self.logger, logging.WARNING)
        self.logger.info(f"== session {datetime.datetime.now().isoformat(timespec='seconds')}: {command_line()}")
        return self

    def __exit__(self, *exc) -> None:
        for stream in (sys.stdout, sys.stderr):
            if isinstance(stream, _LineWriter):
                stream.flush()
                stream.close_line()
        sys.stdout, sys.stderr = self.saved
        self.logger.removeHandler(self.handler)
        self.handler.close()


def command_line(argv=None) -> str:
    """This process' command as typed: `liverseg ...` for the console script, `python -m <module>`
    for a module run, otherwise the interpreter and script."""
    argv = list(sys.argv if argv is None else argv)
    first = Path(argv[0]) if argv else Path("python")
    main = sys.modules.get("__main__")
    module = getattr(getattr(main, "__spec__", None), "name", None)
    if first.name == "liverseg":
        head = ["liverseg"]
    elif module and module != "__main__":
        head = ["python", "-m", module.removesuffix(".__main__")]
    else:
        head = ["python", str(first)]
    return shlex.join(head + argv[1:])


def resume_command(run_dir, argv=None) -> str:
    """The command that resumes this run: the same one, with `--run-dir RUN` when it lacked it."""
    argv = list(sys.argv if argv is None else argv)
    if not any(a == "--run-dir" or a.startswith("--run-dir=") for a in argv[1:]):
        argv += ["--run-dir", str(run_dir)]
    return command_line(argv)


class StageTimes:
    """Wall time per stage, summed over the sessions of a run (`timings.json`): a resumed run counts
    the time the earlier sessions spent too."""

    def __init__(self, run_dir):
        self.path = RunDir(run_dir).timings
        self.record = read_json(self.path) if self.path.is_file() else {"sessions": []}
        self.session = {"started": datetime.datetime.now().isoformat(timespec="seconds"),
                        "command": command_line(), "stages": {}}
        self.record["sessions"].append(self.session)
        self.start = time.perf_counter()

    def add(self, name: str, seconds: float) -> None:
        self.session["stages"][name] = round(self.session["stages"].get(name, 0.0) + float(seconds), 2)
        self.session["wall_s"] = round(time.perf_counter() - self.start, 2)
        atomic_write_json(self.path, self.record)


def read_timings(run_dir) -> dict:
    """{"stages": {name: seconds over all sessions}, "total_s", "sessions": n} of a run."""
    path = RunDir(run_dir).timings
    record = read_json(path) if path.is_file() else {"sessions": []}
    stages: dict = {}
    for session in record["sessions"]:
        for name, seconds in session.get("stages", {}).items():
            stages[name] = stages.get(name, 0.0) + seconds
    total = sum(s.get("wall_s", 0.0) for s in record["sessions"])
    return {"stages": stages, "total_s": total, "sessions": len(record["sessions"])}


def hardware() -> str:
    """CPU model, cores, memory and GPUs in one line."""
    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parts = [f"{model}, {cores} CPU core(s) available"]
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        parts.append(f"{pages * size / 2**30:.0f} GiB memory")
    except (ValueError, OSError, AttributeError):
        pass
    return ", ".join(parts)


__all__ = ["RunLog", "StageTimes", "read_timings", "command_line", "resume_command", "hardware", "plural",
           "quiet_tensorflow"]
