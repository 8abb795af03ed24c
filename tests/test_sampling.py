"""Generation: decoding rules, streaming, reproducibility, unknown priming characters."""

import numpy as np
import pytest

from charlstm.model.sampling import MAX_LENGTH, generate, sample_index
from charlstm.text.corpus import CorpusError


def test_greedy_is_argmax():
    rng = np.random.default_rng(0)
    logits = np.array([0.1, 3.0, 2.9, -1.0])
    assert all(sample_index(logits, 0.0, rng) == 1 for _ in range(20))


def test_top_k_never_leaves_the_k_likeliest():
    rng = np.random.default_rng(0)
    logits = np.array([5.0, 4.9, 0.0, 0.0, 0.0, 4.8])
    picks = {sample_index(logits, 5.0, rng, top_k=2) for _ in range(300)}
    assert picks == {0, 1}


def test_temperature_sharpens_and_flattens():
    logits = np.log(np.array([0.6, 0.3, 0.1]))
    counts = {}
    for t in (0.2, 1.0, 5.0):
        rng = np.random.default_rng(1)
        picks = np.array([sample_index(logits, t, rng) for _ in range(3000)])
        counts[t] = (picks == 0).mean()
    assert counts[0.2] > 0.95 and 0.55 < counts[1.0] < 0.65 and counts[5.0] < 0.45


def test_generate_streams_reproducibly(trained_run):
    w, v = trained_run.weights, trained_run.vocab
    gen = generate(w, v, "The cat", 50, temperature=1.0, seed=5)
    first = next(gen)
    assert isinstance(first, str) and len(first) == 1  # one character at a time
    rest = "".join(gen)
    assert len(first + rest) == 50
    again = "".join(generate(w, v, "The cat", 50, temperature=1.0, seed=5))
    assert again == first + rest
    assert "".join(generate(w, v, "The cat", 50, temperature=1.0, seed=6)) != again
    assert set(again) <= set(v.chars)


def test_greedy_continuation_follows_the_model(trained_run):
    from charlstm.insight.gates import trace_weights

    w, v = trained_run.weights, trained_run.vocab
    out = "".join(generate(w, v, "The cat sat", 5, temperature=0))
    # each greedy character is the argmax of the model over the text so far
    text = "The cat sat"
    for ch in out:
        logits = trace_weights(w, v, text).logits[-1]
        assert v.chars[int(np.argmax(logits))] == ch
        text += ch


def test_long_generation_and_limits(trained_run):
    w, v = trained_run.weights, trained_run.vocab
    assert len("".join(generate(w, v, "A", 10_000, seed=1))) == 10_000
    with pytest.raises(ValueError, match="length"):
        list(generate(w, v, "A", MAX_LENGTH + 1))
    with pytest.raises(ValueError, match="temperature"):
        list(generate(w, v, "A", 5, temperature=-1))


def test_unknown_priming_characters(trained_run):
    w, v = trained_run.weights, trained_run.vocab
    with pytest.raises(CorpusError, match="Q, Z"):
        list(generate(w, v, "Zoo Quiz", 5))
    assert len("".join(generate(w, v, "Zoo Quiz", 5, drop_unknown=True))) == 5
    with pytest.raises(CorpusError, match="no characters"):
        list(generate(w, v, "ZZZ", 5, drop_unknown=True))
    assert len("".join(generate(w, v, "", 5))) == 5  # empty prime starts from a default character


def test_a_priming_text_is_read_as_the_run_was_trained():
    from charlstm.model.sampling import prepare_prime
    from charlstm.text.corpus import Vocab

    vocab = Vocab.build("romeo: but soft\n")
    assert prepare_prime("ROMEO:", vocab, lowercase=True) == "romeo:"
    with pytest.raises(CorpusError, match="E, M, O, R"):
        prepare_prime("ROMEO:", vocab, lowercase=False)
    assert prepare_prime("Romeo!", vocab, lowercase=False, drop_unknown=True) == "omeo"
    with pytest.raises(CorpusError, match="no characters"):
        prepare_prime("ZZ", vocab, lowercase=False, drop_unknown=True)
    assert prepare_prime("", vocab, lowercase=True) == ""


def constant_model(p: np.ndarray):
    """Real weights whose next-character logits are log p whatever came before (every other weight zero)."""
    from charlstm.model.lstm_np import LayerWeights, Weights

    v, u = len(p), 4
    z = np.zeros(4 * u, np.float32)
    layer = LayerWeights(np.zeros((2, 4 * u), np.float32), np.zeros((u, 4 * u), np.float32), z)
    return Weights(np.zeros((v, 2), np.float32), (layer,), np.zeros((u, v), np.float32), np.log(p).astype(np.float32))


@pytest.mark.parametrize("temperature", [1.0, 0.5, 2.0])
def test_generation_draws_from_the_softmax_at_its_temperature(temperature):
    """The block-wise Gumbel-max draw picks each character with probability softmax(logits / T)."""
    from charlstm.model.lstm_np import Stepper
    from charlstm.model.sampling import continue_ids
    from charlstm.text.corpus import Vocab

    p = np.array([0.5, 0.3, 0.15, 0.05])
    want = p ** (1 / temperature) / (p ** (1 / temperature)).sum()
    w = constant_model(p)
    ids = np.array(list(continue_ids(Stepper(w), np.log(p), 20_000, temperature, 0, np.random.default_rng(0))))
    np.testing.assert_allclose(np.bincount(ids, minlength=4) / len(ids), want, atol=0.015)
    text = "".join(generate(w, Vocab(chars=tuple("abcd")), "a", 20_000, temperature, seed=0))
    got = np.array([text.count(c) for c in "abcd"]) / len(text)
    np.testing.assert_allclose(got, want, atol=0.015)
