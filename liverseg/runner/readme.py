"""The figures of the READMEs, generated from the files that hold them (`make readme`).

A README holds generated blocks between two comments; everything between them is rewritten from its
source, and nothing else in the README is touched:

    <!-- generated: expected_scores -->              the paper's expected_scores.json (README of a paper)
    <!-- generated: results "## <heading>" -->      that section of benchmarks/RESULTS.md, verbatim
    <!-- end generated -->

    python -m liverseg.runner.readme            # rewrite every README's blocks
    python -m liverseg.runner.readme --check    # exit 1 and name the README when a block is stale

`tests/test_readme.py` runs the check, so a README and its files cannot disagree in CI. The Results
section of a paper README holds figures only inside generated blocks (the test checks that too).
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from liverseg.errors import InputError
from liverseg.io.atomic import atomic_write_text, read_json

ROOT = Path(__file__).resolve().parents[2]
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
BLOCK = re.compile(r"(<!-- generated: (?P<source>.+?) -->\n)(?P<body>.*?)(<!-- end generated -->)", re.S)


def _fmt(value) -> str:
    return "—" if value is None else (f"{value:.4f}" if isinstance(value, float) else str(value))


def expected_block(expected: dict, where: str) -> str:
    """The stored smoke-run scores of a paper, with tolerances and the runs over seeds they come from."""
    if not expected:
        return f"No stored scores yet (`{where}` is missing).\n"
    spread = expected.get("spread_over_seeds", {})
    runs, seeds = spread.get("runs", []), spread.get("seeds", [])
    keys = list(expected.get("scores", {})) + list(expected.get("unguarded", {}))
    head = "| score | stored (seed 0) | tolerance | floor | guarded | " + " | ".join(f"seed {s}" for s in seeds) + " |"
    lines = [f"CI regression check (`{where}`, {expected.get('profile')} profile, default variant "
             f"`{expected.get('variant')}`): a smoke run must score within the tolerance of the stored value.",
             "", head, "|" + "---|" * (5 + len(seeds))]
    for key in keys:
        if key in expected.get("scores", {}):
            score, tol, guarded = expected["scores"][key], expected["tolerance"][key], "yes"
        else:
            score, tol, guarded = expected["unguarded"][key]["score"], expected["unguarded"][key]["tolerance"], \
                "no (band reaches 0)"
        per_seed = " | ".join(_fmt(r.get(key)) for r in runs)
        lines.append(f"| `{key}` | {_fmt(score)} | {_fmt(tol)} | {_fmt(max(score - tol, 0.0))} | {guarded} | {per_seed} |")
    return "\n".join(lines) + "\n"


def results_section(results_text: str, heading: str, where: Path = RESULTS) -> str:
    """The body of `heading` in RESULTS.md (up to the next heading of the same or a higher level)."""
    level = len(heading) - len(heading.lstrip("#"))
    lines = results_text.splitlines()
    try:
        start = lines.index(heading)
    except ValueError:
        raise InputError(where, f"has no section {heading!r}") from None
    body = []
    for line in lines[start + 1:]:
        m = re.match(r"^(#+) ", line)
        if m and len(m.group(1)) <= level:
            break
        body.append(line)
    text = "\n".join(body).strip("\n")
    return f"From `benchmarks/RESULTS.md`, section \"{heading.lstrip('# ')}\":\n\n{text}\n"


def render(readme_text: str, expected: dict | None, *, readme: Path, expected_where: str = "",
           results_text: str | None = None) -> str:
    """`readme_text` with every generated block rewritten from its source."""
    def block(m: re.Match) -> str:
        source = m.group("source").strip()
        if source == "expected_scores":
            if expected is None:
                raise InputError(readme, "a generated expected_scores block outside a paper README")
            body = expected_block(expected, expected_where)
        elif source.startswith("results "):
            heading = source[len("results "):].strip().strip('"')
            body = results_section(results_text if results_text is not None else RESULTS.read_text(), heading)
        else:
            raise InputError(readme, f"unknown generated block source {source!r}")
        return f"{m.group(1)}{body}{m.group(4)}"

    return BLOCK.sub(block, readme_text)


def readmes() -> list[tuple[Path, dict | None, str]]:
    """(README, expected scores or None, where they come from) of the project and of every paper."""
    from liverseg.registry import installed, paper

    out = [(ROOT / "README.md", None, "")]
    for name in installed():  # a spec registered at run time (a test's stub) has no README
        spec = paper(name)
        path = Path(spec.expected_path)
        out.append((path.with_name("README.md"), read_json(path) if path.is_file() else {},
                    path.relative_to(ROOT).as_posix() if path.is_relative_to(ROOT) else str(path)))
    return out


def stale() -> list[Path]:
    """READMEs whose generated blocks differ from their sources."""
    return [readme for readme, expected, where in readmes() if readme.is_file()
            and render(readme.read_text(), expected, readme=readme, expected_where=where) != readme.read_text()]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m liverseg.runner.readme", description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="only report stale READMEs (exit 1 when any)")
    args = p.parse_args(argv)
    if args.check:
        paths = stale()
        for path in paths:
            print(f"{path}: generated figures differ from their files; run `make readme`", file=sys.stderr)
        return 1 if paths else 0
    for readme, expected, where in readmes():
        if readme.is_file():
            text = readme.read_text()
            new = render(text, expected, readme=readme, expected_where=where)
            if new != text:
                atomic_write_text(readme, new)
                print(f"rewrote {readme.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
