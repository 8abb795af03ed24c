"""On a GPU, Keras runs an LSTM on its fused cuDNN kernel only under certain settings: every model we build meets them.

The conditions, from the installed Keras 3.15 source:
- keras/src/layers/rnn/lstm.py, LSTM.inner_loop: the cuDNN path (backend.lstm) is tried only when
  use_cudnn is "auto" or True and `not self.recurrent_dropout`;
- keras/src/backend/tensorflow/rnn.py, cudnn_ok -> _do_lstm_arguments_support_cudnn: activation is
  tanh, recurrent_activation is sigmoid, `not unroll`, use_bias (and a GPU is visible);
- keras/src/backend/torch/rnn.py, cudnn_ok and lstm: the same four, and no mask (`if mask is not None:
  raise NotImplementedError`); keras/src/backend/jax/rnn.py, cudnn_ok: the same four.
The tests run on CPU: they check the layers' settings, which decide the kernel wherever they run.
"""

from __future__ import annotations

import pytest
from conftest import require

from charlstm.config import PRESETS, Config

VOCAB = 11


def small(config: Config) -> Config:
    """The same settings but a few units, so every preset builds in a moment (units do not decide the kernel)."""
    return config.replace(units=8)


@pytest.fixture(scope="module", params=sorted(PRESETS))
def model(request):
    require("keras")
    from charlstm.model.network import build_model

    return build_model(small(PRESETS[request.param]), VOCAB)


def test_every_lstm_of_every_preset_meets_the_cudnn_conditions(model):
    import keras

    from charlstm.model.network import cudnn_problems

    lstms = [layer for layer in model.layers if isinstance(layer, keras.layers.LSTM)]
    assert lstms
    for layer in lstms:  # each condition spelled out, as the Keras source states it
        assert layer.use_cudnn in ("auto", True)
        assert layer.cell.recurrent_dropout == 0
        assert layer.cell.activation is keras.activations.tanh
        assert layer.cell.recurrent_activation is keras.activations.sigmoid
        assert layer.unroll is False
        assert layer.cell.use_bias is True
    assert not any(getattr(layer, "mask_zero", False) for layer in model.layers)
    assert cudnn_problems(model) == []


def test_keras_own_argument_check_agrees(model):
    """TensorFlow backend's private predicate: if a Keras upgrade renames it, this fails naming it."""
    import importlib

    import keras

    tf_rnn = importlib.import_module("keras.src.backend.tensorflow.rnn")  # the package's `rnn` is a function
    check = getattr(tf_rnn, "_do_lstm_arguments_support_cudnn", None)
    assert check is not None, "keras.src.backend.tensorflow.rnn._do_lstm_arguments_support_cudnn is gone: " \
                              "look up the cuDNN conditions again and update charlstm.model.network.cudnn_problems"
    for layer in (la for la in model.layers if isinstance(la, keras.layers.LSTM)):
        assert check(activation=layer.cell.activation, recurrent_activation=layer.cell.recurrent_activation,
                     unroll=layer.unroll, use_bias=layer.cell.use_bias)


CHANGES = {  # one setting that takes the LSTM off cuDNN: what cudnn_problems must name
    "recurrent dropout": ({"recurrent_dropout": 0.1}, "recurrent_dropout=0.1"),
    "relu": ({"activation": "relu"}, "activation relu, not tanh"),
    "hard sigmoid": ({"recurrent_activation": "hard_sigmoid"}, "recurrent_activation hard_sigmoid, not sigmoid"),
    "unrolled": ({"unroll": True}, "unroll=True"),
    "no bias": ({"use_bias": False}, "use_bias=False"),
    "cudnn off": ({"use_cudnn": False}, "use_cudnn=False"),
}


@pytest.mark.parametrize("case", list(CHANGES))
def test_a_setting_off_the_cudnn_path_is_named(case):
    keras = require("keras")
    from charlstm.model.network import cudnn_problems

    changes, named = CHANGES[case]
    ids = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(VOCAB, 4)(ids)
    x = keras.layers.LSTM(8, return_sequences=True, name="lstm_0", **changes)(x)
    assert cudnn_problems(keras.Model(ids, keras.layers.Dense(VOCAB)(x))) == [f"lstm_0: {named}"]


def test_a_mask_is_named():
    keras = require("keras")
    from charlstm.model.network import cudnn_problems

    ids = keras.Input(shape=(None,), dtype="int32")
    x = keras.layers.Embedding(VOCAB, 4, mask_zero=True, name="embedding")(ids)
    x = keras.layers.LSTM(8, return_sequences=True, name="lstm_0")(x)
    assert cudnn_problems(keras.Model(ids, x)) == ["embedding: mask_zero=True (a mask)"]
