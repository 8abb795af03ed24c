"""The classic tutorial's formulation against charlstm's, for the same training time on the same corpus.

    python bench/tutorial_bench.py [--minutes 5] [--eval-every 30] [--note "..."]

Trains, one after the other, "the tutorial, exactly" (windows of 50, one target each, input i / V)
and charlstm's default config, lowercased like the tutorial so both predict the same characters,
on the built-in corpus, each for --minutes of training time (evaluation pauses the clock). Both
are scored on the same held-out windows: the loss on the character after each 50-character
window of the last 10% of the text, read from an empty state. Then a greedy sample from each,
each generated its own way (the tutorial re-reads its window, the default steps once per character).

Writes charlstm/data/tutorial_results.json (read by the app's Home page), charlstm/data/tutorial-vs-sequence.png,
and prints the Markdown table for docs/tutorial.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

from charlstm.config import PRESETS, Config  # noqa: E402
from charlstm.text import window  # noqa: E402
from charlstm.text.corpus import builtin  # noqa: E402
from charlstm.text.split import epoch_batches, split, targets_per_step  # noqa: E402
from charlstm.views import comparison  # noqa: E402

TUTORIAL = PRESETS["the tutorial, exactly"]
# the tutorial: windows of 50 -> 1 target, input i / V; the default: every character a target, learned embedding
RUNS = {"the tutorial, exactly": TUTORIAL, "charlstm's default, lowercased": Config(lowercase=True)}
SAMPLE_CHARS = 300


def window_losses(logits_model, vx: np.ndarray, vy: np.ndarray) -> float:
    """Mean cross-entropy of the character after each window, from the logits at the window's last position."""
    z = np.asarray(logits_model.predict(vx, batch_size=256, verbose=0), dtype=np.float64)
    if z.ndim == 3:  # the sequence model predicts after every position: keep the window's last
        z = z[:, -1]
    z -= z.max(axis=1, keepdims=True)
    return float(np.mean(np.log(np.exp(z).sum(axis=1)) - z[np.arange(len(vy)), vy]))


def batches(train_ids: np.ndarray, config: Config, epoch: int, chunk: int):
    """(x, y) chunks of `chunk` optimizer steps over one epoch, in the formulation's own order."""
    n = chunk * config.batch_size
    if config.formulation == "window":
        starts = window.epoch_starts(len(train_ids), config, epoch)
        for s in range(0, len(starts), n):
            yield window.gather(train_ids, starts[s:s + n], config.seq_len)
    else:
        x, y = epoch_batches(train_ids, config, epoch)
        for s in range(0, len(x), n):
            yield x[s:s + n], y[s:s + n]


def warm_up(model, train_ids: np.ndarray, config: Config) -> None:
    """Let Keras compile its training step outside the clock, then put the model back as it was built."""
    initial = model.get_weights()
    x, y = next(batches(train_ids, config, 0, 1))
    model.fit(x, y, batch_size=config.batch_size, epochs=1, shuffle=False, verbose=0)
    model.set_weights(initial)
    for v in model.optimizer.variables:  # Adam's step count and moments back to zero; its learning rate stays
        if not v.path.endswith("learning_rate"):
            v.assign(np.zeros(v.shape, dtype=v.dtype))


def train_for(config: Config, minutes: float, eval_every: float, vx, vy, data) -> tuple[object, dict]:
    import keras

    from charlstm.model.network import build_model

    keras.utils.set_random_seed(config.seed)
    model = build_model(config, len(data.vocab))
    logits_model = keras.Model(model.inputs, model.get_layer("logits").output)
    warm_up(model, data.train, config)
    chunk = 4 if config.formulation == "window" else 20  # steps between clock checks: a few seconds either way
    budget, clock, steps, epoch, next_eval = minutes * 60, 0.0, 0, 0, eval_every
    points = [{"seconds": 0.0, "steps": 0, "val_loss": round(window_losses(logits_model, vx, vy), 4)}]
    while clock < budget:
        for x, y in batches(data.train, config, epoch, chunk):
            t0 = time.perf_counter()
            model.fit(x, y, batch_size=config.batch_size, epochs=1, shuffle=False, verbose=0)
            clock += time.perf_counter() - t0
            steps += len(x) // config.batch_size
            if clock >= next_eval or clock >= budget:
                val = window_losses(logits_model, vx, vy)
                points.append({"seconds": round(clock, 1), "steps": steps, "val_loss": round(val, 4)})
                print(f"  {clock:6.0f} s  {steps:6d} steps  val {val:.4f}", flush=True)
                next_eval += eval_every
            if clock >= budget:
                break
        epoch += 1
    targets = steps * targets_per_step(config)
    return model, {"config": config.to_dict(), "formulation": config.formulation, "steps": steps,
                   "train_seconds": round(clock, 1), "targets": targets,
                   "targets_per_sec": round(targets / clock, 1),
                   "chars_read_per_sec": round(steps * config.batch_size * config.seq_len / clock),
                   "curve": points, "final_val_loss": points[-1]["val_loss"]}


def greedy_sample(model, config: Config, vocab, prime: str) -> tuple[str, float]:
    """A greedy continuation, generated as the formulation generates; and its characters per second."""
    from charlstm.model.lstm_np import Weights
    from charlstm.model.sampling import generate

    w = Weights.from_keras(model)
    t0 = time.perf_counter()
    text = "".join(generate(w, vocab, prime, SAMPLE_CHARS, temperature=0.0,
                            window=config.seq_len if config.formulation == "window" else 0))
    return text, SAMPLE_CHARS / (time.perf_counter() - t0)


def draw_png(results: dict, path: Path) -> None:
    """The validation curves as a PNG for docs/tutorial.md, drawn with Pillow (no browser, no extra package)."""
    from PIL import Image, ImageDraw, ImageFont

    W, H, left, right, top, bottom = 1000, 520, 90, 30, 80, 70
    img = Image.new("RGB", (W, H), "white")
    d = ImageDraw.Draw(img)
    font, small = ImageFont.load_default(size=18), ImageFont.load_default(size=15)
    runs = results["runs"]
    xs = [p["seconds"] / 60 for r in runs for p in r["curve"]]
    ys = [p["val_loss"] for r in runs for p in r["curve"]]
    x_hi = max(xs) or 1.0
    y_lo, y_hi = np.floor(min(ys) * 4) / 4, np.ceil(max(ys) * 4) / 4

    def at(x: float, y: float) -> tuple[float, float]:
        return (left + (W - left - right) * x / x_hi, top + (H - top - bottom) * (y_hi - y) / (y_hi - y_lo))

    for y in np.arange(y_lo, y_hi + 1e-9, 0.25):
        d.line([at(0, y), at(x_hi, y)], fill="#e9ecef")
        d.text((left - 10, at(0, y)[1]), f"{y:.2f}", fill="#495057", font=small, anchor="rm")
    for x in range(int(x_hi) + 1):
        d.line([at(x, y_lo), at(x, y_hi)], fill="#e9ecef")
        d.text((at(x, y_lo)[0], H - bottom + 10), f"{x}", fill="#495057", font=small, anchor="mt")
    d.rectangle([at(0, y_hi), at(x_hi, y_lo)], outline="#868e96")
    d.text((left + (W - left - right) / 2, H - 25), "training time (minutes)", fill="#212529", font=font, anchor="mm")
    d.text((15, top - 30), "validation loss on the character after each held-out 50-character window (nats)",
           fill="#212529", font=font)
    colours = ["#e8590c", "#1864ab"]
    for k, (r, colour) in enumerate(zip(runs, colours, strict=False)):
        pts = [at(p["seconds"] / 60, p["val_loss"]) for p in r["curve"]]
        d.line(pts, fill=colour, width=3)
        for x, y in pts:
            d.ellipse([x - 4, y - 4, x + 4, y + 4], fill=colour)
        ly = top + 15 + 26 * k
        d.line([(W - right - 560, ly), (W - right - 530, ly)], fill=colour, width=4)
        d.text((W - right - 520, ly), f"{r['name'][:60]}", fill="#212529", font=small, anchor="lm")
    d.text((15, 12), f"{results['minutes']:g} minutes each on {results['corpus']}, {results['date']}",
           fill="#495057", font=small)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--minutes", type=float, default=5.0, help="training time for each formulation")
    p.add_argument("--eval-every", type=float, default=30.0, help="seconds of training between validations")
    p.add_argument("--note", default="", help="what else the machine was doing, for the record")
    p.add_argument("--out", type=Path, default=comparison.RESULTS)
    p.add_argument("--chart", type=Path, default=comparison.CHART)
    args = p.parse_args()

    text = builtin().text
    first = split(text, TUTORIAL)
    vx, vy = window.validation(first.val, TUTORIAL.seq_len)  # the same held-out windows for both
    prime = first.vocab.decode(first.val[:TUTORIAL.seq_len])
    results = {"date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "minutes": args.minutes,
               "corpus": "tiny Shakespeare, lowercased", "val_windows": len(vx), "window": TUTORIAL.seq_len,
               "prime": prime, "note": args.note,
               "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                           "processor": platform.machine(), "load_average_at_start": os.getloadavg()[0],
                           "tf_threads": os.environ.get("CHARLSTM_TF_THREADS", "1")},
               "runs": []}
    for name, config in RUNS.items():
        data = split(text, config)
        assert data.vocab.chars == first.vocab.chars, "both formulations must predict the same characters"
        print(f"{name}: {config.layers}x{config.units}, batch {config.batch_size}, length {config.seq_len}, "
              f"lr {config.learning_rate}, for {args.minutes:g} min; {len(vx):,} held-out windows", flush=True)
        model, run = train_for(config, args.minutes, args.eval_every, vx, vy, data)
        run["sample"], rate = greedy_sample(model, config, data.vocab, prime)
        run["sample_chars_per_sec"] = round(rate, 1)
        run["name"] = name
        results["runs"].append(run)
        print(f"  {run['targets_per_sec']:,} targets/s; greedy sample ({rate:,.0f} chars/s): {run['sample']!r}",
              flush=True)
    results["machine"]["load_average_at_end"] = os.getloadavg()[0]
    args.out.write_text(json.dumps(results, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    draw_png(results, args.chart)
    print(f"\nwrote {args.out} and {args.chart}\n")
    print(comparison.markdown_table(results))


if __name__ == "__main__":
    main()
