"""Start a stage from the weights another stage trained: a fine-tuning (the whole model), or a
composite model whose sub-networks were trained before (one named sub-model)."""
from __future__ import annotations

from pathlib import Path

import keras

from liverseg.errors import InputError
from liverseg.io.checkpoints import load_model


def _part(model: keras.Model, name: str, where: Path | str):
    if not name or name == model.name:
        return model
    try:
        return model.get_layer(name)
    except ValueError:
        raise InputError(where, f"has no sub-model {name!r} (layers: "
                                f"{', '.join(layer.name for layer in model.layers[:12])})") from None


def copy_weights(target: keras.Model, source: keras.Model, part: str = "", *, where: Path | str = "") -> None:
    """Copy `source`'s weights into `target` (part "") or into `target`'s sub-model `part`; the
    source is that sub-model itself or a model that contains one of the same name."""
    into = _part(target, part, "the new model")
    src = source if (not part or source.name == part) else _part(source, part, where)
    theirs, ours = src.get_weights(), into.get_weights()
    shapes = [w.shape for w in theirs], [w.shape for w in ours]
    if shapes[0] != shapes[1]:
        raise InputError(where, f"weights do not fit {into.name!r}: {len(theirs)} arrays {shapes[0][:3]}... "
                                f"vs {len(ours)} arrays {shapes[1][:3]}...; was it trained with another config?")
    into.set_weights(theirs)


def warm_start(model: keras.Model, sources: dict[str, Path]) -> keras.Model:
    """`sources` maps a part of `model` ("" = all of it) to the `.keras` checkpoint it starts from."""
    for part, path in sources.items():
        copy_weights(model, load_model(path), part, where=path)
    return model


__all__ = ["copy_weights", "warm_start"]
