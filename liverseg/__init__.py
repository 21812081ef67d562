"""liverseg: shared Keras 3 library for reproducing liver / liver-tumour CT segmentation papers."""

__version__ = "0.1.0"


def _register_keras_objects() -> None:
    """Register the library's Keras objects (`liverseg.keras_objects`) once Keras is imported, so
    `import liverseg` + `keras.saving.load_model(path)` loads any run's model. Keras is not imported
    here (a command that never needs it starts without TensorFlow): when it is not imported yet, a
    one-shot import hook registers right after `import keras` finishes."""
    import importlib
    import importlib.abc
    import importlib.util
    import sys

    def register() -> None:
        # skipped while a liverseg module is half-imported (it is the one importing Keras): the
        # modules listed import each other by name, and the loader imports this module again
        initialising = [m for name, m in list(sys.modules.items())
                        if name.startswith("liverseg.") and getattr(getattr(m, "__spec__", None), "_initializing", False)]
        if not initialising:
            importlib.import_module("liverseg.keras_objects")

    if "keras" in sys.modules:
        register()
        return

    class AfterKeras(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name != "keras":
                return None
            sys.meta_path.remove(self)
            spec = importlib.util.find_spec("keras")
            if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
                return spec
            exec_module = spec.loader.exec_module

            def exec_then_register(module):
                exec_module(module)
                register()

            spec.loader.exec_module = exec_then_register
            return spec

    sys.meta_path.insert(0, AfterKeras())


_register_keras_objects()
del _register_keras_objects
