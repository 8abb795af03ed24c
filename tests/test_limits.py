"""Server caps: each one refuses what exceeds it, with a message naming it."""

from charlstm.config import Config
from charlstm.limits import Limits


def test_every_cap_names_itself():
    lim = Limits(max_layers=2, max_units=64, max_embedding=16, max_seq_len=64, max_batch_size=64,
                 max_chars_per_step=1024, max_epochs=3)
    assert lim.problems(Config(layers=2, units=64, embedding=16, seq_len=16, batch_size=64, epochs=3)) == []
    too_big = Config(layers=3, units=65, embedding=17, seq_len=65, batch_size=65, epochs=4)
    text = "; ".join(lim.problems(too_big, corpus_bytes=11_000_000))
    for part in ("layers is 3", "units per layer is 65", "embedding size is 17", "sequence length is 65",
                 "batch size is 65", "epochs is 4", "characters per step", "corpus is 11.0 MB"):
        assert part in text


def test_chars_per_step_bounds_the_product():
    lim = Limits()
    assert lim.problems(Config(batch_size=128, seq_len=128)) == []
    (msg,) = lim.problems(Config(batch_size=256, seq_len=128))
    assert "32,768" in msg and "16,384" in msg
    assert "16,384 characters per step" in lim.describe()
