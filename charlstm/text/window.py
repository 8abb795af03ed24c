"""The classic Keras tutorial's formulation: every window of seq_len characters predicts the one after it.

Its input is each character's integer divided by the vocabulary size, one float per time step.
Here that is an Embedding of width 1 whose rows are fixed to i / V (never trained), so the
model keeps charlstm's Embedding -> LSTM -> Dense shape and the numpy tracer and stepper read
it unchanged. Windows are read from an empty state, as the tutorial's Keras model does.

No TensorFlow at import: the data functions are numpy; dataset() imports Keras when training.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def scaled_inputs(vocab_size: int) -> np.ndarray:
    """The tutorial's input for character i, i / V, as the rows of a width-1 embedding."""
    return (np.arange(vocab_size, dtype=np.float32) / np.float32(vocab_size))[:, None]  # (V, 1)


def n_windows(n_ids: int, seq_len: int) -> int:
    """Windows with a character after them: the tutorial's range(0, n - seq_len)."""
    return max(0, n_ids - seq_len)


def gather(ids: np.ndarray, starts: np.ndarray, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """The windows that start at `starts` (inputs, (n, seq_len)) and the character after each (targets, (n,))."""
    view = sliding_window_view(ids, seq_len)  # (n_ids - seq_len + 1, seq_len), a view: no copy of the text
    starts = np.asarray(starts, dtype=np.int64)
    return view[starts], ids[starts + seq_len]


def epoch_starts(n_ids: int, config, epoch: int) -> np.ndarray:
    """One epoch's window starts: every window (stride 1, as the tutorial), shuffled by (seed, epoch); whole batches."""
    rng = np.random.default_rng([config.seed, epoch])
    order = rng.permutation(n_windows(n_ids, config.seq_len))
    steps = max(1, len(order) // config.batch_size)
    return order[:steps * config.batch_size]


def steps_per_epoch(n_ids: int, config) -> int:
    return max(1, n_windows(n_ids, config.seq_len) // config.batch_size)


def validation(ids: np.ndarray, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """Held-out windows, one starting every seq_len characters, each scored on the character after it.

    Every held-out character is read once; a stride of 1 would score seq_len times as many
    targets, at seq_len times the cost, for nearly the same mean.
    """
    return gather(ids, np.arange(0, n_windows(len(ids), seq_len), seq_len), seq_len)


def dataset(ids: np.ndarray, config, epoch: int):
    """One epoch of training batches as a keras.utils.PyDataset, gathered batch by batch.

    Gathering per batch keeps memory at one batch: the tutorial's stride-1 windows, all of
    them at once, would be seq_len copies of the text (about 220 MB for tiny Shakespeare).
    """
    import keras

    starts = epoch_starts(len(ids), config, epoch)
    batch = config.batch_size

    class Windows(keras.utils.PyDataset):
        def __len__(self) -> int:
            return max(1, -(-len(starts) // batch))

        def __getitem__(self, k: int):
            return gather(ids, starts[k * batch:(k + 1) * batch], config.seq_len)

    return Windows()
