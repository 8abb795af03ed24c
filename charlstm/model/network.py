"""The network: Embedding -> LSTM x layers (+Dropout) -> Dense logits over the characters.

The window formulation (the classic tutorial's, charlstm/text/window.py) has the same layers, a fixed
width-1 embedding, only the last position out of the last LSTM, and a softmax on top.

Importing this module imports Keras (and so, with Keras's TensorFlow backend, TensorFlow): only
training and loading need it. Nothing here is TensorFlow's own, so bench/gpu_bench.py can build the
same model with KERAS_BACKEND=torch or jax on a machine without TensorFlow.
"""

from __future__ import annotations

import os

import keras

from charlstm.config import Config
from charlstm.text.window import scaled_inputs


def _set_threads() -> None:
    """One TensorFlow thread per op by default: measured faster for these small LSTMs on 2 cores
    (9.9 against 8.4 steps/s), and it leaves a core to the app while a model trains. Only with
    Keras's TensorFlow backend (bench/gpu_bench.py builds the model on PyTorch or JAX too)."""
    n = int(os.environ.get("CHARLSTM_TF_THREADS", "1"))
    if n > 0 and keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(n)
        except RuntimeError:  # TensorFlow already started: keep what it has
            pass


_set_threads()


def seeded(config: Config):
    """Seeded initializers and dropout for each layer: training touches no global random state.

    keras.utils.set_random_seed would reseed Python's `random` and numpy's global generator for the
    whole process (and an unseeded Keras layer draws its seed from Python's `random`); every layer
    gets its own seed from config.seed instead, so the same config and seed give the same weights.

    charlstm's own model starts from the weights PyTorch's nn.Embedding and nn.LSTM draw (pytorch=True):
    Keras's defaults (embedding uniform in +-0.05, Glorot kernels, orthogonal recurrent kernels, a
    forget-gate bias of 1) learned less per step on the default config, validation loss 2.24 against
    1.94 after 128 steps on the same batches (docs/benchmarks.md). Only where training starts changes:
    the layers, and so the gate tracer's maths, are Keras's own. The tutorial's model keeps Keras's defaults.
    """
    import itertools

    n = itertools.count(config.seed * 1000)

    def lstm(units, pytorch=False, **kw):
        if pytorch:  # every weight uniform in +-1/sqrt(units); the bias the sum of nn.LSTM's two such biases
            k = units ** -0.5
            init = {"kernel_initializer": keras.initializers.RandomUniform(-k, k, seed=next(n)),
                    "recurrent_initializer": keras.initializers.RandomUniform(-k, k, seed=next(n)),
                    "bias_initializer": keras.initializers.RandomUniform(-2 * k, 2 * k, seed=next(n)),
                    "unit_forget_bias": False}
        else:
            init = {"kernel_initializer": keras.initializers.GlorotUniform(seed=next(n)),
                    "recurrent_initializer": keras.initializers.Orthogonal(seed=next(n))}
        return keras.layers.LSTM(units, seed=next(n), **init, **kw)

    def dropout(rate, **kw):
        return keras.layers.Dropout(rate, seed=next(n), **kw)

    def dense(units, **kw):
        return keras.layers.Dense(units, kernel_initializer=keras.initializers.GlorotUniform(seed=next(n)), **kw)

    def embedding(vocab, width, **kw):  # N(0, 1), as nn.Embedding: vectors of unit scale, not near zero
        return keras.layers.Embedding(vocab, width, embeddings_initializer=keras.initializers.RandomNormal(
            stddev=1.0, seed=next(n)), **kw)

    return embedding, lstm, dropout, dense


def build_model(config: Config, vocab_size: int) -> keras.Model:
    """A compiled char-rnn style model: it predicts the next character at every position."""
    if config.formulation == "window":
        return build_window_model(config, vocab_size)
    embedding, lstm, dropout, dense = seeded(config)
    ids = keras.Input(shape=(None,), dtype="int32", name="ids")  # (batch, T)
    x = embedding(vocab_size, config.embedding, name="embedding")(ids)
    for i in range(config.layers):
        x = lstm(config.units, pytorch=True, return_sequences=True, name=f"lstm_{i}")(x)  # (batch, T, units)
        x = dropout(config.dropout, name=f"dropout_{i}")(x)
    # logits; the softmax over characters lives in the loss (stable) and in sampling
    logits = dense(vocab_size, name="logits")(x)  # (batch, T, vocab)
    model = keras.Model(ids, logits, name="charlstm")
    compile_model(model, config)
    return model


def set_weights(model: keras.Model, weights) -> None:
    """Put weights (lstm_np.Weights, as Weights.from_keras copies them out) into a model build_model made."""
    model.get_layer("embedding").set_weights([weights.embedding])
    for i, lw in enumerate(weights.layers):
        model.get_layer(f"lstm_{i}").set_weights([lw.kernel, lw.recurrent, lw.bias])
    model.get_layer("logits").set_weights([weights.dense_w, weights.dense_b])


def compile_model(model: keras.Model, config: Config) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate, clipnorm=config.clipnorm or None),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )


def build_window_model(config: Config, vocab_size: int) -> keras.Model:
    """The classic tutorial's model: a window of config.seq_len characters in, the next character's probabilities out.

    The tutorial feeds X / V as an (N, 50, 1) float array; a frozen width-1 embedding with rows
    i / V makes exactly those inputs from the character ids inside the model.
    """
    _, lstm, dropout, dense = seeded(config)
    ids = keras.Input(shape=(config.seq_len,), dtype="int32", name="ids")  # (batch, 50)
    embedding = keras.layers.Embedding(vocab_size, 1, trainable=False, name="embedding")
    x = embedding(ids)  # (batch, 50, 1): i / V
    embedding.set_weights([scaled_inputs(vocab_size)])
    for i in range(config.layers):
        last = i == config.layers - 1  # the tutorial's last LSTM returns only its final step
        x = lstm(config.units, return_sequences=not last, name=f"lstm_{i}")(x)
        x = dropout(config.dropout, name=f"dropout_{i}")(x)  # (batch, 50, units), last (batch, units)
    # the tutorial's Dense(V, activation="softmax") as Dense then Softmax, so the tracer can read the logits
    logits = dense(vocab_size, name="logits")(x)  # (batch, vocab)
    probs = keras.layers.Softmax(name="softmax")(logits)
    model = keras.Model(ids, probs, name="charlstm_window")
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate, clipnorm=config.clipnorm or None),
        # the tutorial's categorical cross-entropy on one-hot targets, -sum(onehot * log p) = -log p[target]:
        # the sparse loss computes the same number from the target's index, without an (N, V) one-hot array
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=False),
    )
    return model


def check_architecture(model: keras.Model, config: Config, vocab_size: int) -> None:
    """Raise ValueError unless model is exactly what build_model makes for this config."""
    if config.formulation == "window":
        return check_window_architecture(model, config, vocab_size)
    expected = ["ids", "embedding"]
    for i in range(config.layers):
        expected += [f"lstm_{i}", f"dropout_{i}"]
    expected.append("logits")
    got = [layer.name for layer in model.layers]
    if got != expected:
        raise ValueError(f"not a charlstm model: layers {got}, expected {expected}")
    emb = model.get_layer("embedding")
    if emb.input_dim != vocab_size or emb.output_dim != config.embedding:
        raise ValueError("embedding size does not match the run's config and vocabulary")
    check_lstms(model, config)
    if model.get_layer("logits").units != vocab_size:
        raise ValueError("output size does not match the run's vocabulary")


def check_lstms(model: keras.Model, config: Config, last_returns_sequences: bool = True) -> None:
    """Raise ValueError unless layers lstm_0.. are plain Keras LSTMs the gate tracer models, sized as config says."""
    for i in range(config.layers):
        lstm = model.get_layer(f"lstm_{i}")
        if type(lstm).__name__ != "LSTM" or lstm.units != config.units:
            raise ValueError(f"layer lstm_{i} does not match the run's config")
        if lstm.activation.__name__ != "tanh" or lstm.recurrent_activation.__name__ != "sigmoid":
            raise ValueError(f"layer lstm_{i} uses activations the gate tracer does not model")
        sequences = last_returns_sequences or i < config.layers - 1
        if not lstm.use_bias or lstm.go_backwards or lstm.return_sequences != sequences:
            raise ValueError(f"layer lstm_{i} does not match the run's config")


def cudnn_problems(model: keras.Model) -> list[str]:
    """Why Keras would not run this model's LSTMs on its fused cuDNN kernel on a GPU; empty when it would.

    Keras 3.15's conditions (keras/src/layers/rnn/lstm.py LSTM.inner_loop; cudnn_ok in
    keras/src/backend/{tensorflow,torch,jax}/rnn.py): use_cudnn "auto" or True, no recurrent dropout,
    activation tanh, recurrent_activation sigmoid, not unrolled, a bias, and no mask (the torch backend
    and TensorFlow's right-padding check). Without them every time step is a separate loop iteration.
    """
    from keras import activations

    out = []
    lstms = [layer for layer in model.layers if isinstance(layer, keras.layers.LSTM)]
    if not lstms:
        return ["the model has no LSTM layer"]
    for layer in lstms:
        cell, why = layer.cell, []
        if layer.use_cudnn not in ("auto", True):
            why.append(f"use_cudnn={layer.use_cudnn!r}")
        if cell.recurrent_dropout:
            why.append(f"recurrent_dropout={cell.recurrent_dropout}")
        if cell.activation is not activations.tanh:
            why.append(f"activation {cell.activation.__name__}, not tanh")
        if cell.recurrent_activation is not activations.sigmoid:
            why.append(f"recurrent_activation {cell.recurrent_activation.__name__}, not sigmoid")
        if layer.unroll:
            why.append("unroll=True")
        if not cell.use_bias:
            why.append("use_bias=False")
        out += [f"{layer.name}: {w}" for w in why]
    out += [f"{layer.name}: mask_zero=True (a mask)" for layer in model.layers if getattr(layer, "mask_zero", False)]
    return out


def check_window_architecture(model: keras.Model, config: Config, vocab_size: int) -> None:
    """Raise ValueError unless model is exactly what build_window_model makes for this config."""
    import numpy as np


    expected = ["ids", "embedding"]
    for i in range(config.layers):
        expected += [f"lstm_{i}", f"dropout_{i}"]
    expected += ["logits", "softmax"]
    got = [layer.name for layer in model.layers]
    if got != expected:
        raise ValueError(f"not a charlstm window model: layers {got}, expected {expected}")
    if tuple(model.inputs[0].shape) != (None, config.seq_len):
        raise ValueError("the model's window length does not match the run's config")
    emb = model.get_layer("embedding")
    if emb.input_dim != vocab_size or emb.output_dim != 1 or emb.trainable:
        raise ValueError("the input is not the fixed width-1 embedding the window formulation uses")
    if not np.array_equal(np.asarray(emb.get_weights()[0]), scaled_inputs(vocab_size)):
        raise ValueError("the input embedding is not i / V")
    check_lstms(model, config, last_returns_sequences=False)
    dense = model.get_layer("logits")
    if dense.units != vocab_size or dense.activation.__name__ != "linear":
        raise ValueError("output size does not match the run's vocabulary")


def from_weights(config: Config, vocab_size: int, weights) -> keras.Model:
    """A compiled model built from a config and given lstm_np.Weights (a run stored without model.keras); ValueError
    when the weights are not of the network the config describes."""
    model = build_model(config, vocab_size)
    try:
        set_weights(model, weights)
    except ValueError as e:
        raise ValueError(f"weights.npz does not fit its config ({e})") from None
    return model


def load_checked(path, config: Config, vocab_size: int) -> keras.Model:
    """model.keras, loaded in Keras's safe mode and checked against the architecture config describes; ValueError,
    in words, when it cannot be loaded safely or is another network."""
    try:
        model = keras.saving.load_model(path, compile=True, safe_mode=True)
    except Exception as e:  # any failure to deserialise means we will not use it
        raise ValueError(f"model.keras cannot be loaded safely ({type(e).__name__}: {e})") from None
    check_architecture(model, config, vocab_size)
    return model
