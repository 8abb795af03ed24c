"""Validation loss against optimizer steps for several configs (backend-independent quality per step).

Used to choose the default config: quality per step does not depend on the machine, steps per
second do, so time-to-target on a 2-core CPU = steps needed (from here) / steps per second
(measured on that CPU by bench/run.py). Runs with any Keras backend:

    KERAS_BACKEND=jax python bench/curve_steps.py OUT.json "128,2,32,64,3e-3,0.2" ...
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np  # noqa: E402

from charlstm.config import Config  # noqa: E402
from charlstm.corpus import builtin  # noqa: E402
from charlstm.train import epoch_batches, split, windows  # noqa: E402


def curve(config: Config, max_steps: int, every: int, on_point=None) -> list[tuple[int, float]]:
    import keras

    from charlstm.model import build_model

    data = split(builtin().text, config)
    vx, vy = windows(data.val, config.seq_len)
    keras.utils.set_random_seed(config.seed)
    model = build_model(config, len(data.vocab))
    out, step, epoch = [], 0, 0
    while step < max_steps:
        x, y = epoch_batches(data.train, config, epoch)
        for s in range(0, len(x), every * config.batch_size):
            n = min(len(x) - s, every * config.batch_size, (max_steps - step) * config.batch_size)
            if n <= 0:
                break
            model.fit(x[s:s + n], y[s:s + n], batch_size=config.batch_size, epochs=1, shuffle=False, verbose=0)
            step += n // config.batch_size
            val = float(model.evaluate(vx, vy, batch_size=256, verbose=0))
            out.append((step, round(val, 4)))
            print(config.units, config.batch_size, config.seq_len, step, round(val, 4), flush=True)
            if on_point:
                on_point(out)
        epoch += 1
    return out


def main() -> None:
    dest, specs = sys.argv[1], sys.argv[2:]
    results = []
    for spec in specs:
        units, layers, batch, seq, lr, drop, steps = spec.split(",")
        cfg = Config(units=int(units), layers=int(layers), batch_size=int(batch), seq_len=int(seq),
                     learning_rate=float(lr), dropout=float(drop))
        t0 = time.time()
        entry = {"config": cfg.to_dict(), "curve": [], "seconds": 0.0}
        results.append(entry)

        def save(points, entry=entry, t0=t0):  # partial results survive a time limit
            entry.update(curve=list(points), seconds=time.time() - t0)
            Path(dest).write_text(json.dumps(results, indent=1))

        curve(cfg, int(steps), 100, on_point=save)


if __name__ == "__main__":
    main()
