"""One Keras model's train step and forward pass on JAX, timed: the measurements of
`benchmarks/gpu_throughput.py` (a jitted stateless train step with the stage's loss and optimiser on random
batches; its compile time, slices per second and memory; the forward pass over a synthetic volume)."""
from __future__ import annotations

import json
import math
import time

from gong_throughput import peak_memory_bytes


def is_oom(error: BaseException) -> bool:
    """XLA's RESOURCE_EXHAUSTED (JAX) or TensorFlow's ResourceExhaustedError, by name: no import needed."""
    text = f"{type(error).__name__} {error}"
    return any(s in text for s in ("RESOURCE_EXHAUSTED", "ResourceExhausted", "Out of memory", "out of memory"))


def train_size(stage, cfg) -> int:
    """Edge of the slices a stage trains on: its first source's crop, else the profile's slice size."""
    source = stage.sources[0]
    return source.crop_size if source.crop != "none" and source.crop_size else cfg.preprocess.size


def random_batch(model, stage, batch: int, size: int, seed: int = 0):
    """Inputs uniform in [0, 1) of the model's input shapes, targets 0/1 of its output shapes with one
    channel per target of the stage's data (a deep-supervision model stacks heads the loss splits);
    spatial dimensions the model leaves open (fully convolutional networks) are `size`."""
    import numpy as np

    rng = np.random.default_rng(seed)

    def shape(tensor, channels=None):
        spatial = [size if d is None else d for d in tensor.shape[1:-1]]
        return (batch, *spatial, channels or tensor.shape[-1])

    targets = len(stage.sources[0].targets) if len(model.outputs) == 1 else None
    x = [rng.random(shape(t), dtype=np.float32) for t in model.inputs]
    y = [(rng.random(shape(t, targets), dtype=np.float32) > 0.9).astype(np.float32) for t in model.outputs]
    return (x[0] if len(x) == 1 else x), (y[0] if len(y) == 1 else y)


def signature(model, stage) -> tuple:
    """What a train step computes: every layer (kind, settings, parameters, trainable), the input
    shapes, the loss class and the optimiser; names left out."""
    def layers(layer):
        for sub in getattr(layer, "layers", []):
            if hasattr(sub, "layers"):
                yield type(sub).__name__, sub.trainable
                yield from layers(sub)
                continue
            config = {k: v for k, v in sub.get_config().items() if k != "name"}
            yield type(sub).__name__, json.dumps(config, sort_keys=True, default=str), sub.count_params(), sub.trainable

    return (tuple(layers(model)), tuple(tuple(t.shape) for t in model.inputs),
            type(stage.loss()).__name__, stage.train.optimizer)


def make_optimizer(stage, policy: str):
    import keras

    from liverseg.train.optimizers import make_optimizer as stage_optimizer

    optimizer = stage_optimizer(stage.train, 100)
    if policy == "mixed_float16":
        optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
    return optimizer


def train_program(model, loss_fn, optimizer, steps_per_execution: int, jit: bool):
    """state, x, y -> (state, loss) for `steps_per_execution` train steps; state = (trainable,
    non-trainable, optimiser variables), donated to the program as `Model.fit` does on JAX."""
    import jax
    import keras
    from keras import ops

    def loss_and_updates(trainable, non_trainable, opt_vars, x, y):
        y_pred, non_trainable, losses = model.stateless_call(trainable, non_trainable, x, training=True,
                                                             return_losses=True)
        loss = ops.cast(ops.mean(loss_fn(y, y_pred)), "float32")
        for extra in losses:
            loss = loss + ops.cast(extra, "float32")
        with keras.StatelessScope(state_mapping=list(zip(optimizer.variables, opt_vars))):
            scaled = optimizer.scale_loss(loss)
        return scaled, (loss, non_trainable)

    grad_fn = jax.value_and_grad(loss_and_updates, has_aux=True)

    def step(state, x, y):
        trainable, non_trainable, opt_vars = state
        (_, (loss, non_trainable)), grads = grad_fn(trainable, non_trainable, opt_vars, x, y)
        trainable, opt_vars = optimizer.stateless_apply(opt_vars, grads, trainable)
        return (trainable, non_trainable, opt_vars), loss

    def program(state, x, y):
        for _ in range(steps_per_execution):  # unrolled (on XLA's CPU backend a fori_loop ran 6-10x slower)
            state, loss = step(state, x, y)
        return state, loss

    return jax.jit(program, donate_argnums=0) if jit else program


def model_state(model, optimizer):
    return ([v.value for v in model.trainable_variables], [v.value for v in model.non_trainable_variables],
            [v.value for v in optimizer.variables])


def store_state(model, optimizer, state) -> None:
    """Back into the model's variables (the donated buffers they held are gone)."""
    for variables, values in zip((model.trainable_variables, model.non_trainable_variables, optimizer.variables),
                                 state):
        for v, value in zip(variables, values):
            v.assign(value)


def program_bytes(compiled) -> int | None:
    """Arguments + outputs + temporaries - aliased (donated) bytes of a compiled XLA program."""
    try:
        m = compiled.memory_analysis()
        return int(m.argument_size_in_bytes + m.output_size_in_bytes - m.alias_size_in_bytes + m.temp_size_in_bytes)
    except Exception:  # a platform without memory analysis: no figure rather than no measurement
        return None


def measure_training(model, stage, policy: str, batch: int, size: int, args) -> dict:
    """Compile seconds, slices per second and memory of `batch`-slice train steps of a built model."""
    import jax
    import numpy as np

    optimizer = make_optimizer(stage, policy)
    optimizer.build(model.trainable_variables)
    program = train_program(model, stage.loss(), optimizer, args.steps_per_execution, args.jit_compile)
    x, y = jax.device_put(random_batch(model, stage, batch, size))
    state = model_state(model, optimizer)
    peak_before = peak_memory_bytes()
    start = time.perf_counter()
    if args.jit_compile:
        program = program.lower(state, x, y).compile()
    compile_s = time.perf_counter() - start
    try:
        for _ in range(args.warmup):
            state, loss = program(state, x, y)
        jax.block_until_ready(state)
        start = time.perf_counter()
        for _ in range(args.steps):
            state, loss = program(state, x, y)
        loss = float(np.asarray(loss))  # waits for the last step
        seconds = time.perf_counter() - start
    finally:
        if all(not getattr(a, "is_deleted", lambda: False)() for a in jax.tree_util.tree_leaves(state)):
            store_state(model, optimizer, state)
    peak = peak_memory_bytes()
    slices = args.steps * args.steps_per_execution * batch
    return {"slices_per_s": round(slices / seconds, 2), "seconds": round(seconds, 3),
            "compile_s": round(compile_s, 2), "peak_bytes": peak,
            "peak_new": None if peak is None else peak > (peak_before or 0),
            "program_bytes": program_bytes(program) if args.jit_compile else None,
            "loss": round(loss, 5) if math.isfinite(loss) else None}


def measure_volume(model, batch: int, slices: int, size: int, jit: bool) -> dict:
    """Seconds of the network's forward pass over a `slices`-slice synthetic volume, after one compiling
    batch. Slices have the model's input size, or where it has none (a fully convolutional network)
    `size` rounded up to a multiple of 32, the largest output stride of those networks (their
    predictors pad so)."""
    import numpy as np

    from liverseg.infer.predict import predict_slices

    model.jit_compile = jit
    size = -(-size // 32) * 32
    shape = tuple(size if d is None else d for d in model.inputs[0].shape[1:])
    volume = np.random.default_rng(1).random((slices, *shape), dtype=np.float32)
    start = time.perf_counter()
    predict_slices(model, volume[:batch], batch_size=batch)
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    predict_slices(model, volume, batch_size=batch)
    return {"seconds_per_volume": round(time.perf_counter() - start, 3), "compile_s": round(compile_s, 2),
            "slices": slices, "slice_shape": list(shape)}


__all__ = ["is_oom", "train_size", "random_batch", "signature", "make_optimizer", "train_program",
           "measure_training", "measure_volume"]
