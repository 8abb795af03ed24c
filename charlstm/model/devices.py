"""Which device trains, in words, and the tf.distribute strategies that train on more than one.

No TensorFlow at import: `check_tf_config` and `STRATEGIES` are plain Python, so a bad TF_CONFIG is
refused before TensorFlow starts; `describe` and `make_strategy` import it when a model is trained.

Batches under a strategy: `Config.batch_size` is the global batch, split evenly across the
replicas (so it must divide by their number), as Keras's fit does with a distribution strategy.
The learning rate is used as it is, never scaled with the number of replicas: the same config
takes the same optimizer steps on one device or eight, and a run trained under a strategy is
stored and keyed exactly as one trained on one device.
"""

from __future__ import annotations

import json
import os
import re

STRATEGIES = ("none", "mirrored", "multiworker")


def cpu_cores() -> int:
    """The cores this process may run on (a container's limit where the OS tells it)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def check_tf_config(raw: str | None) -> dict:
    """TF_CONFIG for MultiWorkerMirroredStrategy, parsed and checked; ValueError says what is wrong, in words."""
    how = ('set it on every machine, e.g. TF_CONFIG=\'{"cluster": {"worker": ["host1:12345", "host2:12345"]}, '
           '"task": {"type": "worker", "index": 0}}\' (docs/gpu.md, "Beyond one machine")')
    if not raw or not raw.strip():
        raise ValueError(f"--strategy multiworker needs the TF_CONFIG environment variable: {how}")
    try:
        tf_config = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ValueError(f"TF_CONFIG is not valid JSON ({e.msg} at character {e.pos}): {how}") from None
    if not isinstance(tf_config, dict):
        raise ValueError(f"TF_CONFIG must be a JSON object with 'cluster' and 'task': {how}")
    cluster, task = tf_config.get("cluster"), tf_config.get("task")
    if not isinstance(cluster, dict) or not cluster:
        raise ValueError(f"TF_CONFIG has no 'cluster' (the address of every worker): {how}")
    for kind, addresses in cluster.items():
        if not isinstance(addresses, list) or not addresses or not all(
                isinstance(a, str) and ":" in a for a in addresses):
            raise ValueError(f"TF_CONFIG's cluster['{kind}'] must be a list of 'host:port' addresses, "
                             f"got {addresses!r}")
    if not isinstance(task, dict) or "type" not in task or "index" not in task:
        raise ValueError(f"TF_CONFIG has no 'task' with a 'type' and an 'index' (which worker this machine is): {how}")
    kind, index = task["type"], task["index"]
    if kind not in cluster:
        raise ValueError(f"TF_CONFIG's task type {kind!r} is not in its cluster ({', '.join(cluster)})")
    if not isinstance(index, int) or isinstance(index, bool) or not 0 <= index < len(cluster[kind]):
        raise ValueError(f"TF_CONFIG's task index must be 0 to {len(cluster[kind]) - 1} for its "
                         f"{len(cluster[kind])} {kind}(s), got {index!r}")
    return tf_config


# what TensorFlow puts in its messages that a person cannot read: values it prints whole, and its plumbing
_DUMPS = [(re.compile(r"PerReplica:\{.*\}", re.S), "PerReplica{...}"),
          (re.compile(r"<tf\.(Tensor|Variable)[^<>]*>"), "<tf.Tensor>"),
          (re.compile(r"array\([^()]*\)"), "array(...)"),
          (re.compile(r"\{\{function_node [^}]*\}\}"), ""),
          (re.compile(r"\[Op:\w+\]"), "")]
_TAILS = ("Additional GRPC error information", "The error could be from a previous operation")
MAX_ERROR_CHARS = 300


def short_error(message: str, limit: int = MAX_ERROR_CHARS) -> str:
    """TensorFlow's message on one line, its tensor dumps, gRPC details and op names left out; at most `limit` chars."""
    for pattern, instead in _DUMPS:
        message = pattern.sub(instead, message)
    for tail in _TAILS:
        message = message.split(tail)[0]
    message = " ".join(message.split())
    if len(message) > limit:
        cut = message[:limit].rsplit(" ", 1)[0]
        message = cut.rstrip(".,;:") + " ..."
    return message


def failure_words(error: BaseException, strategy: str) -> str:
    """A distributed training that failed in TensorFlow, in one line: what failed, its cause in short, what to try."""
    try_first = ("every worker must run the same command on the same corpus, each with its own task index in "
                 "TF_CONFIG, and reach the others' addresses" if strategy == "multiworker" else
                 "the machine's devices must all be usable")
    return (f"training under --strategy {strategy} failed in TensorFlow ({type(error).__name__}: "
            f"{short_error(str(error))}); {try_first}; --strategy none trains the same settings on one device")


def is_chief(tf_config: dict) -> bool:
    """The worker that keeps the run: the 'chief' task if the cluster has one, else worker 0."""
    task = tf_config["task"]
    if "chief" in tf_config["cluster"]:
        return task["type"] == "chief"
    return task["type"] == "worker" and task["index"] == 0


def make_strategy(name: str):
    """A tf.distribute strategy by name, or None for "none" (Keras's default placement: the first GPU, else the CPU).

    Call it before TensorFlow runs any op: both strategies configure the devices they use.
    "mirrored" mirrors over every visible GPU, or over every logical CPU device when there is no GPU
    (one CPU device unless the process configured more, as the tests do).
    """
    if name not in STRATEGIES:
        raise ValueError(f"--strategy must be one of {', '.join(STRATEGIES)}, not {name!r}")
    if name == "none":
        return None
    if name == "multiworker":
        check_tf_config(os.environ.get("TF_CONFIG"))
    import tensorflow as tf

    if name == "mirrored":
        gpus = tf.config.list_logical_devices("GPU")
        devices = [d.name for d in gpus] if gpus else [d.name for d in tf.config.list_logical_devices("CPU")]
        return tf.distribute.MirroredStrategy(devices)
    return _multi_worker_strategy(tf)


def _multi_worker_strategy(tf):
    """MultiWorkerMirroredStrategy whose reduce takes what Keras 3's fit gives it with more than one worker.

    Keras (3.15, and its main branch in 2026-08) asks two things of `reduce` that tf.distribute answers
    only for one worker (keras-team/keras issue #20585): the mean of the first (x, y) batch of every fit
    and evaluate, a tuple ("Attempt to convert a value (PerReplica ...) to a Tensor"), and the mean of
    every step's scalar loss along axis 0 ("Invalid reduction dimension 0 for input with 0 dimensions").
    Each value of a structure is reduced on its own, and a scalar across the replicas.
    """

    class MultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
        def reduce(self, reduce_op, value, axis):
            if isinstance(value, list | tuple | dict):
                return tf.nest.map_structure(lambda v: self.reduce(reduce_op, v, axis), value)
            if axis is not None and self.experimental_local_results(value)[0].shape.rank == 0:
                axis = None
            return super().reduce(reduce_op, value, axis)

    return MultiWorkerMirroredStrategy()


def check_batch(batch_size: int, strategy) -> None:
    """The global batch must split evenly over the replicas, so that every replica sees the same shape."""
    n = strategy.num_replicas_in_sync if strategy is not None else 1
    if batch_size % n:
        raise ValueError(f"batch size {batch_size} does not split evenly over {n} replicas; "
                         f"use a multiple of {n} (the batch size is the global batch)")


def _gpu_names() -> list[str]:
    import tensorflow as tf

    names = []
    for gpu in tf.config.list_physical_devices("GPU"):
        try:
            names.append(tf.config.experimental.get_device_details(gpu).get("device_name") or gpu.name)
        except (RuntimeError, ValueError):
            names.append(gpu.name)
    return names


def _cpu_words() -> str:
    """'CPU (2 cores, 1 TensorFlow thread)'."""
    import keras

    cores = cpu_cores()
    words = f"CPU ({cores} core{'s' * (cores != 1)}"
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        n = tf.config.threading.get_intra_op_parallelism_threads()
        words += f", {n} TensorFlow thread{'s' * (n != 1)}" if n else ", TensorFlow threads: all"
    elif keras.backend.backend() == "torch":
        import torch

        words += f", {torch.get_num_threads()} PyTorch threads"
    return words + ")"


def _grouped(names: list[str]) -> str:
    """'NVIDIA H200 × 2', 'NVIDIA H200, NVIDIA A100'."""
    if names and all(n == names[0] for n in names):
        return names[0] + (f" × {len(names)}" if len(names) > 1 else "")
    return ", ".join(names)


def describe(strategy=None) -> str:
    """Where training runs, for people: 'CPU (2 cores, 1 TensorFlow thread)', 'GPU: NVIDIA H200',
    'MirroredStrategy, 2 replicas: GPU: NVIDIA H200 × 2'."""
    import keras

    backend = keras.backend.backend()
    if backend == "torch":
        import torch
        from keras.src.backend.torch.core import get_device  # the device Keras puts its tensors on

        if str(get_device()).startswith("cuda"):
            return f"GPU: {torch.cuda.get_device_name(torch.device(get_device()))}, Keras on PyTorch"
        return _cpu_words() + ", Keras on PyTorch"
    if backend == "jax":
        import jax

        d = jax.devices()[0]
        return (f"GPU: {d.device_kind}" if d.platform == "gpu" else _cpu_words()) + ", Keras on JAX"
    import tensorflow as tf

    gpus = _gpu_names()
    if strategy is None:
        if not gpus:
            return _cpu_words()
        more = f" (the first of {len(gpus)}; --strategy mirrored uses them all)" if len(gpus) > 1 else ""
        return f"GPU: {gpus[0]}{more}"
    local = list(strategy.extended.worker_devices)
    on_gpu = any("GPU" in d.upper() for d in local)
    here = (f"GPU: {_grouped(gpus[:len(local)])}" if on_gpu else
            f"{len(local)} logical CPU device{'s' * (len(local) != 1)} on {_cpu_words()}")
    n = strategy.num_replicas_in_sync
    replicas = f"{n} replica{'s' * (n != 1)}"
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        jobs = strategy.cluster_resolver.cluster_spec().as_dict()
        workers = sum(len(tasks) for kind, tasks in jobs.items() if kind in ("chief", "worker"))
        return f"MultiWorkerMirroredStrategy, {workers} worker{'s' * (workers != 1)}, {replicas}; this worker: {here}"
    return f"{type(strategy).__name__}, {replicas}: {here}"
