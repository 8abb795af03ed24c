"""The network: Embedding -> LSTM x layers (+Dropout) -> Dense logits over the characters.

Importing this module imports Keras (and so TensorFlow): only training and loading need it.
"""

from __future__ import annotations

import os

import keras

from .config import Config


def _set_threads() -> None:
    """One TensorFlow thread per op by default: measured faster for these small LSTMs on 2 cores
    (9.9 against 8.4 steps/s), and it leaves a core to the app while a model trains."""
    n = int(os.environ.get("CHARLSTM_TF_THREADS", "1"))
    if n > 0:
        import tensorflow as tf

        try:
            tf.config.threading.set_intra_op_parallelism_threads(n)
        except RuntimeError:  # TensorFlow already started: keep what it has
            pass


_set_threads()


def build_model(config: Config, vocab_size: int) -> keras.Model:
    """A compiled char-rnn style model: it predicts the next character at every position."""
    ids = keras.Input(shape=(None,), dtype="int32", name="ids")  # (batch, T)
    x = keras.layers.Embedding(vocab_size, config.embedding, name="embedding")(ids)
    for i in range(config.layers):
        x = keras.layers.LSTM(config.units, return_sequences=True, name=f"lstm_{i}")(x)  # (batch, T, units)
        x = keras.layers.Dropout(config.dropout, name=f"dropout_{i}")(x)
    # logits; the softmax over characters lives in the loss (stable) and in sampling
    logits = keras.layers.Dense(vocab_size, name="logits")(x)  # (batch, T, vocab)
    model = keras.Model(ids, logits, name="charlstm")
    compile_model(model, config)
    return model


def compile_model(model: keras.Model, config: Config) -> None:
    model.compile(
        optimizer=keras.optimizers.Adam(config.learning_rate, clipnorm=config.clipnorm or None),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    )


def check_architecture(model: keras.Model, config: Config, vocab_size: int) -> None:
    """Raise ValueError unless model is exactly what build_model makes for this config."""
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
    for i in range(config.layers):
        lstm = model.get_layer(f"lstm_{i}")
        if type(lstm).__name__ != "LSTM" or lstm.units != config.units:
            raise ValueError(f"layer lstm_{i} does not match the run's config")
        if lstm.activation.__name__ != "tanh" or lstm.recurrent_activation.__name__ != "sigmoid":
            raise ValueError(f"layer lstm_{i} uses activations the gate tracer does not model")
        if not lstm.use_bias or lstm.go_backwards:
            raise ValueError(f"layer lstm_{i} does not match the run's config")
    if model.get_layer("logits").units != vocab_size:
        raise ValueError("output size does not match the run's vocabulary")
