"""Which papers exist: the paper packages register themselves, the library never imports them by name.

Each paper package declares an entry point in the `liverseg.papers` group of `setup.cfg`, naming
its `PaperSpec`::

    [options.entry_points]
    liverseg.papers =
        gong = experiments.gong.spec:PAPER

`paper(name)` loads it on first use; `papers()` lists the names. A spec can also be added at run
time with `register(spec)` (tests, a user's own paper package that is not installed).
"""
from __future__ import annotations

from importlib.metadata import entry_points

from liverseg.errors import OptionError

GROUP = "liverseg.papers"
_registered: dict = {}


def register(spec) -> None:
    """Add a paper spec under `spec.name` (replacing one of the same name)."""
    _registered[spec.name] = spec


def _entry_points() -> dict:
    return {ep.name: ep for ep in entry_points(group=GROUP)}


def papers() -> list[str]:
    """Names of every registered paper, sorted."""
    return sorted(set(_registered) | set(_entry_points()))


def installed() -> list[str]:
    """Names of the papers installed through entry points (the project's own and a user's installed
    package), sorted; a spec added with `register` alone is not among them."""
    return sorted(_entry_points())


def paper(name: str):
    """The `PaperSpec` of `name`; OptionError naming the known papers when there is none."""
    if name not in _registered:
        found = _entry_points().get(name)
        if found is None:
            raise OptionError(f"unknown paper {name!r}; known papers: {', '.join(papers()) or '(none)'}")
        register(found.load())
    return _registered[name]


__all__ = ["GROUP", "register", "papers", "installed", "paper"]
