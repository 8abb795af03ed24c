"""check_architecture: a stored model.keras is used only when it is exactly what build_model makes.

Each wrong model below differs from the right one in one way only, so each is caught by one check.
"""

from __future__ import annotations

import pytest
from conftest import require

from charlstm.config import Config

CONFIG = Config(layers=2, units=6, embedding=4, dropout=0.1)
VOCAB = 9


def build(layers=2, vocab=VOCAB, embedding=4, out=VOCAB, recurrent="LSTM", dropout_name="dropout", **lstm):
    """A model shaped like build_model's for CONFIG and VOCAB, with the given things changed."""
    keras = require("keras")

    ids = keras.Input(shape=(None,), dtype="int32", name="ids")
    x = keras.layers.Embedding(vocab, embedding, name="embedding")(ids)
    for i in range(layers):
        layer = getattr(keras.layers, recurrent)
        x = layer(**({"units": 6, "return_sequences": True, "name": f"lstm_{i}"} | lstm))(x)
        x = keras.layers.Dropout(0.1, name=f"{dropout_name}_{i}")(x)
    return keras.Model(ids, keras.layers.Dense(out, name="logits")(x))


CASES = {  # what is wrong: (how build() is changed, the reason the refusal must give)
    "one layer fewer": ({"layers": 1}, "not a charlstm model: layers"),
    "one layer more": ({"layers": 3}, "not a charlstm model: layers"),
    "a layer renamed": ({"dropout_name": "drop"}, "not a charlstm model: layers"),
    "embedding for another vocabulary": ({"vocab": VOCAB + 1}, "embedding size does not match"),
    "embedding of another width": ({"embedding": 5}, "embedding size does not match"),
    "a GRU where the LSTM goes": ({"recurrent": "GRU"}, "layer lstm_0 does not match the run's config"),
    "another number of units": ({"units": 7}, "layer lstm_0 does not match the run's config"),
    "relu instead of tanh": ({"activation": "relu"}, "lstm_0 uses activations the gate tracer does not model"),
    "hard sigmoid gates": ({"recurrent_activation": "hard_sigmoid"},
                           "lstm_0 uses activations the gate tracer does not model"),
    "no bias": ({"use_bias": False}, "layer lstm_0 does not match the run's config"),
    "running backwards": ({"go_backwards": True}, "layer lstm_0 does not match the run's config"),
    "output for another vocabulary": ({"out": VOCAB + 1}, "output size does not match"),
}


def test_the_right_model_passes():
    from charlstm.model.network import build_model, check_architecture

    check_architecture(build_model(CONFIG, VOCAB), CONFIG, VOCAB)
    check_architecture(build(), CONFIG, VOCAB)  # the reference the wrong models are changed from


@pytest.mark.parametrize("case", list(CASES))
def test_each_kind_of_wrong_model_is_refused(case):
    from charlstm.model.network import check_architecture

    changes, reason = CASES[case]
    with pytest.raises(ValueError, match=reason):
        check_architecture(build(**changes), CONFIG, VOCAB)
