"""Which papers exist: found by convention, the library never imports them by name.

A method of this project is a package `experiments/<name>/` whose `paper.py` defines `PAPER`, an
instance of `liverseg.runner.paper.Paper`: adding the folder is all it takes. A method in another
installed package declares an entry point in the `liverseg.papers` group instead::

    [options.entry_points]
    liverseg.papers =
        my_unet = my_package.paper:PAPER

`paper(name)` loads it on first use; `papers()` lists the names. A spec can also be added at run
time with `register(spec)` (tests).
"""
from __future__ import annotations

import importlib
import importlib.util
from importlib.metadata import entry_points
from pathlib import Path

from liverseg.errors import OptionError

GROUP = "liverseg.papers"
_registered: dict = {}


def register(spec) -> None:
    """Add a paper spec under `spec.name` (replacing one of the same name)."""
    _registered[spec.name] = spec


class _Conventional:
    """`experiments.<name>.paper:PAPER`, loaded like an entry point."""

    def __init__(self, name: str):
        self.name = name

    def load(self):
        return importlib.import_module(f"experiments.{self.name}.paper").PAPER


def _conventional() -> dict:
    """The packages `experiments/<name>/` that hold a `paper.py`."""
    found = importlib.util.find_spec("experiments")
    if found is None or not found.submodule_search_locations:
        return {}
    return {p.parent.name: _Conventional(p.parent.name) for root in found.submodule_search_locations
            for p in sorted(Path(root).glob("*/paper.py")) if not p.parent.name.startswith(("_", "."))}


def _entry_points() -> dict:
    return {**_conventional(), **{ep.name: ep for ep in entry_points(group=GROUP)}}


def papers() -> list[str]:
    """Names of every registered paper, sorted."""
    return sorted(set(_registered) | set(_entry_points()))


def installed() -> list[str]:
    """Names of the papers found on disk (the project's `experiments/<name>/paper.py`, an installed
    package's entry point), sorted; a spec added with `register` alone is not among them."""
    return sorted(_entry_points())


def paper(name: str):
    """The `Paper` of `name`; OptionError naming the known papers when there is none."""
    if name not in _registered:
        found = _entry_points().get(name)
        if found is None:
            raise OptionError(f"unknown paper {name!r}; known papers: {', '.join(papers()) or '(none)'}")
        register(found.load())
    return _registered[name]


__all__ = ["GROUP", "register", "papers", "installed", "paper"]
