"""Measure every lesson of the Teach and Units pages on each kept epoch of a demo run, to choose the epoch to ship.

    python bench/make_demo.py --minutes 70 --out /tmp/demo --no-install --keep-epochs /tmp/epochs
    python bench/choose_demo.py /tmp/demo /tmp/epochs [--within 0.03] [--install EPOCH]

For each epoch whose validation loss is within --within of the run's best (issue 23: ship the epoch that shows
the lessons best while its val loss stays within 0.03 of the best), it measures on that epoch's weights what
tests/test_shipped.py asserts on the shipped model: the three gate lessons (forget at "eat. R", input at "She",
output at "brave"), Karpathy's classic cells as the Units page's finder ranks them on 20,000 held-out characters
(line position |r|, start of a word and a speaker's name line AUC), and the clamp lesson (the strongest
line-position unit's forget gate held open from the first line break: how far the line's end moves). It prints
one row per epoch and appends them to bench/results/demo.json. --install EPOCH copies the run folder into the
package with that epoch's weights, its probe history cut at that epoch, and meta.json and history.json saying
which epoch it is (the home page reads both validation losses from them).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path

from record import append  # bench/record.py: one file per benchmark, one machine record

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from charlstm.insight.find import cell_finder, run_sample, trace_long
from charlstm.insight.gates import trace
from charlstm.insight.interventions import LINES, Clamp, compare, moved
from charlstm.insight.lessons import LESSONS, focus
from charlstm.insight.probes import LESSON_PROBES, probe_epoch
from charlstm.model.lstm_np import Weights
from charlstm.runs.store import SHIPPED, read_run
from charlstm.text.corpus import builtin

ROOT = Path(__file__).resolve().parents[1]
DEMO = ROOT / "charlstm" / "data" / "demo"
RESULTS = "demo"
SPEAKER = r"(?m)^[A-Z][A-Za-z ]*:\n"  # a speaker's name line, "ROMEO:" and its newline


def measure(run, weights: Weights, sample: str) -> dict:
    """Every lesson's figure on one set of weights (run gives the vocab and config)."""
    run._weights = weights
    out = {}
    for name, lesson in LESSONS.items():
        f = focus(trace(run, lesson.text), lesson)
        out[name] = {"layer": f.layer + 1, "unit": f.unit, "before": round(f.before, 3), "at": round(f.at, 3)}
    tr = trace_long(weights, run.vocab, sample)
    ranked = {name: cell_finder(tr, k=64 if name == "line-position" else 1, **kw)[2]
              for name, kw in (("line-position", {"name": "line-position"}), ("word-start", {"name": "word-start"}),
                               ("speaker-line", {"regex": SPEAKER}))}
    for name, (top, *_) in ranked.items():
        out[name] = {"layer": top.layer + 1, "unit": top.unit, "state": top.state, "score": round(top.score, 3),
                     "strength": round(top.strength, 3)}
    strongest: dict = {}  # each layer-1 unit once (its cell or hidden state, whichever ranks first), strongest first
    for u in ranked["line-position"]:
        if u.layer == 0:
            strongest.setdefault(u.unit, u)
    line_units = list(strongest.values())
    best_clamp = None
    for u in line_units[:4]:  # the layer-1 line-position units, strongest first: hold each one's forget gate
        # open, or its cell where a line starts (low when it grows along the line), from the first line break on
        for target, value in (("forget", 1.0), ("cell", -5.0 if u.score > 0 else 5.0)):
            clamp = Clamp(layer=0, unit=u.unit, target=target, value=value, start=LINES.index("\n"))
            m = moved(compare(weights, run.vocab, LINES, clamp, length=0), LINES.index(";"))
            row = {"unit": u.unit, "state": u.state, "r": round(u.score, 3), "target": target, "value": value,
                   "p_plain": round(m.p_plain, 3), "p_clamped": round(m.p_clamped, 3),
                   "move": round(abs(m.p_plain - m.p_clamped), 3), "top": [m.top_plain, m.top_clamped]}
            if best_clamp is None or row["move"] > best_clamp["move"]:
                best_clamp = row
    out["clamp"] = best_clamp
    return out


def epoch_weights(run_dir: Path, epochs: Path, epoch: int) -> bytes:
    """The kept weights of one epoch; the run's own for its best epoch when that was the last (never kept)."""
    path = epochs / f"epoch-{epoch:03d}.npz"
    if not path.exists() and epoch == read_run(run_dir, files=SHIPPED).best_epoch:
        path = run_dir / "weights.npz"
    return path.read_bytes()


def untrained(run) -> Weights:
    """The weights the trainer starts from: its layers carry their own seeds (model/network.py's seeded)."""
    from charlstm.model.network import build_model

    return Weights.from_keras(build_model(run.config, len(run.vocab)))


def install(run_dir: Path, epochs: Path, epoch: int, to: Path = DEMO) -> None:
    """The run folder in the package, holding epoch `epoch`'s weights and the history up to it."""
    run = read_run(run_dir, files=SHIPPED)
    tmp = to.with_name(to.name + ".new")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(run_dir, tmp, ignore=shutil.ignore_patterns("model.keras"))
    (tmp / "weights.npz").write_bytes(epoch_weights(run_dir, epochs, epoch))
    meta = json.loads((tmp / "meta.json").read_text())
    history = json.loads((tmp / "history.json").read_text())
    best = history["best_epoch"]
    if epoch != best:  # another epoch than the lowest val loss's: say which, and both figures (the home page does)
        history["lowest_val"] = {"epoch": best, "val_loss": min(history["val_loss"])}
        history["best_epoch"] = meta["best_epoch"] = epoch  # the epoch whose weights the folder holds
        meta["chosen_epoch"] = {"epoch": epoch, "lowest_val_epoch": best,
                                "why": "the epoch that shows the lessons best within 0.03 of the lowest val loss"}
    (tmp / "meta.json").write_text(json.dumps(meta, indent=2))
    (tmp / "history.json").write_text(json.dumps(history))
    # How a unit learns draws epochs 0 .. the shipped one: traced afresh from each kept epoch's weights, so the units
    # kept (those the gate moves most after the last traced epoch) are the shipped epoch's own
    probes = None
    for e in range(epoch + 1):  # 0: the untrained model, rebuilt from the recipe's seed as the trainer built it
        weights = untrained(run) if e == 0 else Weights.from_bytes(epoch_weights(run_dir, epochs, e))
        probes = probe_epoch(probes, weights, run.vocab, LESSON_PROBES, e)
    (tmp / "probes.npz").write_bytes(probes.to_bytes())
    shutil.rmtree(to, ignore_errors=True)
    tmp.rename(to)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path)
    ap.add_argument("epochs", type=Path)
    ap.add_argument("--within", type=float, default=0.03)
    ap.add_argument("--install", type=int, default=None)
    ap.add_argument("--to", type=Path, default=DEMO, help="where --install puts it (default: the package's demo)")
    args = ap.parse_args()
    if args.install is not None:
        install(args.run, args.epochs, args.install, args.to)
        return
    run = read_run(args.run, files=SHIPPED)
    val = run.history["val_loss"]
    lowest = min(val)
    sample = run_sample(run, None, corpus=builtin()).text
    rows, t0 = [], time.perf_counter()
    for path in sorted(args.epochs.glob("epoch-*.npz")):
        epoch = int(path.stem.split("-")[1])
        if val[epoch - 1] > lowest + args.within:
            continue
        row = {"epoch": epoch, "val_loss": round(val[epoch - 1], 4),
               **measure(run, Weights.from_bytes(path.read_bytes()), sample)}
        rows.append(row)
        c = row["clamp"]
        line, word, speaker = row["line-position"], row["word-start"], row["speaker-line"]
        gates = "  ".join(f"{g} {row[g]['before']:.2f}->{row[g]['at']:.2f}" for g in LESSONS)
        print(f"epoch {epoch:3d} val {row['val_loss']:.3f}  line |r| {abs(line['score']):.3f} (L{line['layer']} "
              f"u{line['unit']})  word {word['score']:.3f}  speaker {speaker['score']:.3f}  {gates}  "
              + (f"clamp u{c['unit']} {c['target']} {c['p_plain']:.2f}->{c['p_clamped']:.2f}" if c else "-"),
              flush=True)
    append(RESULTS, {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "chooser": str(args.run),
                     "key": run.key, "lowest_val": lowest, "within": args.within, "epochs": rows,
                     "seconds": round(time.perf_counter() - t0, 1)})


if __name__ == "__main__":
    main()
