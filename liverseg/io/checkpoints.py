"""Loading `.keras` checkpoints for inference: safe mode (no Lambda / arbitrary code), not compiled."""
from __future__ import annotations

import zipfile
import zlib
from pathlib import Path

import keras

from liverseg.errors import InputError


def load_model(path) -> keras.Model:
    """Load a `.keras` checkpoint for inference (safe mode, not compiled); the library's layers are
    registered first (`liverseg.keras_objects`), so no paper package needs importing."""
    import liverseg.keras_objects  # noqa: F401

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "model file not found")
    if path.suffix == ".keras" and not zipfile.is_zipfile(path):  # Keras would call it "File not found"
        raise InputError(path, f"damaged Keras model file ({path.stat().st_size} bytes, not a .keras zip archive: "
                               "truncated or overwritten); train the stage again or restore the file")
    try:
        return keras.saving.load_model(path, safe_mode=True, compile=False)
    except (zipfile.BadZipFile, EOFError, zlib.error) as e:
        raise InputError(path, f"damaged Keras model file ({type(e).__name__}: {e}); train the stage again or "
                               "restore the file") from None
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise InputError(path, f"cannot load Keras model ({type(e).__name__}: {e})") from None


__all__ = ["load_model"]
