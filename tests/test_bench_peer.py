"""The charlstm side of the side-by-side benchmark (bench/peer.py) runs; PyTorch's side is not in CI."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def load_peer():
    """bench/peer.py as a module (bench/ is no package; peer.py imports bench/record.py by name)."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import peer
    finally:
        sys.path.remove(str(ROOT / "bench"))
    return peer


def test_the_charlstm_side_trains_for_its_time_and_reports():
    peer = load_peer()
    tiny = {"layers": 1, "units": 8, "embedding": 4, "batch_size": 16, "seq_len": 16, "lr_decay": 0.5}
    res = peer.charlstm_side(tiny, minutes=0.05, warmup=0, eval_every=1.0)
    assert res["steps"] > 0 and res["seconds"] >= 3.0  # the clock, not the epochs, ended it
    assert res["steps_per_sec"] > 0 and 0 < res["val_loss"] < 10
    assert [p["steps"] for p in res["curve"]] == sorted(p["steps"] for p in res["curve"])
    assert res["config"]["units"] == 8 and res["config"]["lr_decay"] == 0.5


def test_peer_says_what_it_does():
    out = subprocess.run([sys.executable, "bench/peer.py", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0 and "side by side" in out.stdout and "--torch-python" in out.stdout


def test_medians_take_the_middle_run_of_each_comparison():
    peer = load_peer()

    def run(ours_rate, their_rate, ours_5, their_5, ours_10, their_10):
        side = {"steps_per_sec": 10.0}
        return {"rate": {"charlstm": [{"steps_per_sec": ours_rate}], "torch": [{"steps_per_sec": their_rate}]},
                "default": {"charlstm": side | {"val_loss": ours_5}, "torch": side | {"val_loss": their_5}},
                "best": {"charlstm": {"steps_per_sec": 6.0, "val_loss": ours_10},
                         "torch": {"steps_per_sec": 8.0, "val_loss": their_10}}}

    m = peer.medians([run(12, 10, 1.64, 1.65, 1.49, 1.52), run(11, 10, 1.70, 1.60, 1.48, 1.53),
                      run(15, 10, 1.63, 1.66, 1.50, 1.51)])
    assert m["steps/s ratio, identical config (rate turns)"] == {"median": 1.2, "runs": [1.2, 1.1, 1.5]}
    assert m["val loss after 5 min, charlstm default"]["median"] == 1.64
    assert m["5-min difference, charlstm - PyTorch"]["median"] == -0.01  # of the differences, not of the medians
    assert m["val loss after 10 min, charlstm best"]["median"] == 1.49
    assert m["steps/s ratio, best configs (same size)"]["median"] == 0.75
