"""The charlstm side of the side-by-side benchmark (bench/peer.py) runs; PyTorch's side is not in CI."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_the_charlstm_side_trains_for_its_time_and_reports():
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        import peer
    finally:
        sys.path.remove(str(ROOT / "bench"))
    tiny = {"layers": 1, "units": 8, "embedding": 4, "batch_size": 16, "seq_len": 16, "lr_decay": 0.5}
    res = peer.charlstm_side(tiny, minutes=0.05, warmup=0, eval_every=1.0)
    assert res["steps"] > 0 and res["seconds"] >= 3.0  # the clock, not the epochs, ended it
    assert res["steps_per_sec"] > 0 and 0 < res["val_loss"] < 10
    assert [p["steps"] for p in res["curve"]] == sorted(p["steps"] for p in res["curve"])
    assert res["config"]["units"] == 8 and res["config"]["lr_decay"] == 0.5


def test_peer_says_what_it_does():
    out = subprocess.run([sys.executable, "bench/peer.py", "--help"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 0 and "side by side" in out.stdout and "--torch-python" in out.stdout
