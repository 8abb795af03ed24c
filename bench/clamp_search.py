"""Search the shipped model for a clamp a class can see: one unit held, the right next character's probability moved.

    python bench/clamp_search.py [--top 15] [--min-move 0.2]

For each text below (the Teach page's sentences, and Shakespeare where what was read long ago decides the
next character) and each layer, unit and clamp (a gate held shut or open, the cell held at 0 or at +-5) from
the text's moment on, it reads the text with and without the clamp and measures,
at every later position, how far the probability of the character that really comes next moved, and whether
the likeliest character changed. Every unit of a layer is clamped at once, one per row of a batch (a
screen); the largest moves are then checked against charlstm/insight/interventions.py's compare, the Teach page's
own path. Prints them and appends them to bench/results/clamp_search.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from record import append  # bench/record.py: one file per benchmark, one machine record

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from charlstm.insight.gates import trace_weights
from charlstm.insight.interventions import Clamp, compare
from charlstm.insight.lessons import LESSONS
from charlstm.model.lstm_np import LayerWeights, Weights, sigmoid, softmax
from charlstm.runs.store import SHIPPED, demo_run, read_run

RESULTS = "clamp_search"  # bench/results/clamp_search.json (record.py)
# (text, where the clamp starts): the moment the carried context is read
TEXTS = [
    (LESSONS["forget"].text, LESSONS["forget"].text.index(".")),
    (LESSONS["input"].text, LESSONS["input"].text.index("She")),
    (LESSONS["output"].text, LESSONS["output"].text.index(". For") + 1),
    ("ROMEO:\nBut soft, what light through yonder window breaks?\nIt is the east, and Juliet is the sun.\n", 6),
    ("First Citizen:\nBefore we proceed any further, hear me speak.\n\nAll:\nSpeak, speak.\n", 14),
    ("KING RICHARD III:\nNow is the winter of our discontent\nMade glorious summer by this sun of York;\n", 17),
]
CLAMPS = [("forget", 1.0), ("forget", 0.0), ("input", 0.0), ("input", 1.0), ("output", 0.0), ("output", 1.0),
          ("cell", 0.0), ("cell", 5.0), ("cell", -5.0)]


def layer_states(lw: LayerWeights, x: np.ndarray, clamp: tuple[str, float, int] | None = None) -> np.ndarray:
    """One LSTM layer over x (B, T, input) from an empty state, every row its own text; with clamp (target, value,
    start), row b holds unit b. The batched twin of interventions.clamped_layer: a screen, checked against it."""
    B, T, _ = x.shape
    u = lw.units
    xz = x @ lw.kernel + lw.bias  # (B, T, 4u)
    h, c = np.zeros((B, u), np.float32), np.zeros((B, u), np.float32)
    out = np.empty((B, T, u), np.float32)
    rows = np.arange(B)
    for t in range(T):
        z = xz[:, t] + h @ lw.recurrent
        i, f, g, o = sigmoid(z[:, :u]), sigmoid(z[:, u:2 * u]), np.tanh(z[:, 2 * u:3 * u]), sigmoid(z[:, 3 * u:])
        on = clamp is not None and t >= clamp[2]
        if on and clamp[0] != "cell":
            {"input": i, "forget": f, "output": o}[clamp[0]][rows, rows] = clamp[1]
        c = f * c + i * g
        if on and clamp[0] == "cell":
            c[rows, rows] = clamp[1]
        h = o * np.tanh(c)
        out[:, t] = h
    return out


def screen(w: Weights, ids: np.ndarray, layer: int, target: str, value: float, start: int) -> np.ndarray:
    """Next-character probabilities (units, T, vocab) with each unit of `layer` clamped in turn."""
    x = w.embedding[ids][None]  # (1, T, emb)
    for k, lw in enumerate(w.layers):
        if k == layer:
            x = layer_states(lw, np.repeat(x, lw.units, axis=0), (target, value, start))
        else:
            x = layer_states(lw, x)
    return softmax(x @ w.dense_w + w.dense_b)


def effects(plain: np.ndarray, clamped: np.ndarray, ids: np.ndarray, start: int) -> dict:
    """The largest move of the right next character's probability after the clamp starts, and top-1 changes."""
    t = np.arange(start, len(ids) - 1)  # positions whose next character is in the text
    right = ids[t + 1]
    p, q = plain[t, right], clamped[t, right]
    k = int(np.argmax(np.abs(q - p)))
    flips = t[plain[t].argmax(axis=1) != clamped[t].argmax(axis=1)]
    lost = [int(j) for j in flips if plain[j].argmax() == ids[j + 1]]  # where the right character lost the top
    return {"position": int(t[k]), "p_untouched": round(float(p[k]), 4), "p_clamped": round(float(q[k]), 4),
            "move": round(float(q[k] - p[k]), 4), "top_changes": len(flips), "right_loses_top": lost}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--top", type=int, default=15)
    ap.add_argument("--min-move", type=float, default=0.2)
    ap.add_argument("--run", type=Path, default=None, help="a run folder to search (default: the shipped model)")
    ap.add_argument("--texts", type=int, nargs="*", default=None, help="only these of TEXTS (0-based; default: all)")
    args = ap.parse_args()
    run = demo_run() if args.run is None else read_run(args.run, files=SHIPPED)
    texts = TEXTS if args.texts is None else [TEXTS[j] for j in args.texts]
    t0, rows = time.perf_counter(), []
    for text, start in texts:
        ids = run.vocab.encode(text)
        plain = softmax(trace_weights(run.weights, run.vocab, text).logits)
        for layer in range(len(run.weights.layers)):
            for target, value in CLAMPS:
                probs = screen(run.weights, ids, layer, target, value, start)
                for unit in range(len(probs)):
                    e = effects(plain, probs[unit], ids, start)
                    rows.append({"text": text, "start": start, "layer": layer + 1, "unit": unit, "target": target,
                                 "value": value, "after": text[max(0, e["position"] - 20):e["position"] + 1],
                                 "next": text[e["position"] + 1], **e})
        print(f"{text[:30]!r}: {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    rows.sort(key=lambda r: -abs(r["move"]))
    for r in rows[:args.top]:  # the screen's figures are interventions.compare's own
        cmp = compare(run.weights, run.vocab, r["text"], Clamp(r["layer"] - 1, r["unit"], r["target"], r["value"],
                                                                r["start"]), length=0)
        nxt = run.vocab.stoi[r["next"]]
        assert abs(cmp.clamped[r["position"], nxt] - r["p_clamped"]) < 1e-3, r
    out = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "model": run.key,
           "seconds": round(time.perf_counter() - t0, 1), "clamps_tried": len(rows),
           "moving_at_least": {str(args.min_move): sum(abs(r["move"]) >= args.min_move for r in rows)},
           "texts": [text for text, _ in texts], "best": [{**r, "text": r["text"][:24]} for r in rows[:40]],
           "best_per_text": [next(r for r in rows if r["text"] == text) for text, _ in texts],
           "best_forget_per_text": [next(r for r in rows if r["text"] == text and r["target"] == "forget")
                                    for text, _ in texts]}
    append(RESULTS, out)
    print(f"{len(rows)} clamps in {out['seconds']} s; {out['moving_at_least']} move the right character by "
          f">= {args.min_move}")
    for r in rows[:args.top]:
        print(f"L{r['layer']} u{r['unit']:<3} {r['target']:<6} {r['value']:>4g} from {r['start']:>2}: "
              f"after {r['after']!r} next {r['next']!r} {r['p_untouched']:.3f} -> {r['p_clamped']:.3f}"
              f" (top changes {r['top_changes']}, right loses top at {r['right_loses_top'][:3]})")
    print("best forget clamp per text:")
    for r in out["best_forget_per_text"]:
        print(f"  L{r['layer']} u{r['unit']} forget {r['value']:g}: after {r['after']!r} next {r['next']!r} "
              f"{r['p_untouched']:.3f} -> {r['p_clamped']:.3f}")


if __name__ == "__main__":
    main()
