"""The PyTorch reference: charlstm's model and data in PyTorch, for the side-by-side benchmark (bench/peer.py).

    python bench/torch_ref.py --config identical --minutes 5 [--device cpu|cuda] [--threads N]
    python bench/torch_ref.py --config peer --minutes 10
    python bench/torch_ref.py --config identical --steps 200      # optimizer steps/s only

The same network as charlstm/model/network.py (Embedding -> LSTM x layers, dropout after each -> Linear logits
over the characters), the same data (charlstm.text.split.split: the last val_fraction of the text held
out; epoch_batches: a fresh random phase and order per epoch, whole batches of non-overlapping sequences,
every position a target),
the same optimizer (Adam with each gradient clipped to the config's norm, as Keras's clipnorm does) and the same
validation (every held-out sequence read from an empty state, the mean loss over all its characters).
PyTorch's own default initialisation, as a person writing this in PyTorch gets it.

Needs only numpy and torch (no TensorFlow): it runs on a machine with a GPU and torch alone. Prints one JSON
line of results last.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
import torch
from torch import nn

from charlstm.config import Config
from charlstm.text.corpus import builtin
from charlstm.text.split import epoch_batches, split, windows

# The configs the benchmark compares. "identical": charlstm's default, to the setting. "peer": what a person
# writing a char-rnn in PyTorch would pick (after karpathy/char-rnn): 2 x 256, embedding 64, batch 32 x 64,
# Adam 3e-3, the global gradient norm clipped to 5.
CONFIGS = {
    "identical": (Config(), "per-tensor"),
    "peer": (Config(layers=2, units=256, embedding=64, batch_size=32, seq_len=64, learning_rate=3e-3), "global"),
}


class CharLSTM(nn.Module):
    def __init__(self, vocab_size: int, config: Config):
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, config.embedding)
        # dropout between the layers inside nn.LSTM, and after the last one, as charlstm puts one after each
        self.lstm = nn.LSTM(config.embedding, config.units, num_layers=config.layers, batch_first=True,
                            dropout=config.dropout if config.layers > 1 else 0.0)
        self.dropout = nn.Dropout(config.dropout)
        self.logits = nn.Linear(config.units, vocab_size)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:  # (batch, T) -> (batch, T, vocab)
        h, _ = self.lstm(self.embedding(ids))
        return self.logits(self.dropout(h))


def evaluate(model: CharLSTM, vx: torch.Tensor, vy: torch.Tensor, batch: int = 256) -> float:
    model.eval()
    total, n = 0.0, 0
    with torch.no_grad():
        for i in range(0, len(vx), batch):
            logits = model(vx[i:i + batch])
            total += nn.functional.cross_entropy(logits.flatten(0, 1), vy[i:i + batch].flatten(),
                                                 reduction="sum").item()
            n += vy[i:i + batch].numel()
    model.train()
    return total / n


def clip(model: nn.Module, norm: float, how: str) -> None:
    if norm <= 0:
        return
    if how == "global":
        nn.utils.clip_grad_norm_(model.parameters(), norm)
    else:  # Keras's clipnorm: each gradient on its own
        for p in model.parameters():
            if p.grad is not None:
                nn.utils.clip_grad_norm_([p], norm)


def train(config: Config, clipping: str, device: str, minutes: float = 0.0, steps: int = 0,
          eval_every: float = 60.0, warmup: int = 0, seed: int = 0) -> dict:
    """Train for `minutes` of training time (evaluation pauses the clock), or time `steps` steps.

    The first `warmup` steps train but are neither timed nor counted (the rate comparison only)."""
    torch.manual_seed(seed)
    data = split(builtin().text, config)
    vx, vy = (torch.as_tensor(a.astype(np.int64), device=device) for a in windows(data.val, config.seq_len))
    model = CharLSTM(len(data.vocab), config).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
    loss_fn = nn.CrossEntropyLoss()
    b = config.batch_size
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)

    def step(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x).flatten(0, 1), y.flatten())
        loss.backward()
        clip(model, config.clipnorm, clipping)
        opt.step()
        return loss

    def batches():
        epoch = 0
        while True:
            x, y = epoch_batches(data.train, config, epoch)
            x = torch.as_tensor(x.astype(np.int64), device=device)
            y = torch.as_tensor(y.astype(np.int64), device=device)
            for i in range(0, len(x), b):
                yield x[i:i + b], y[i:i + b]
            epoch += 1

    it = batches()
    out = {"config": config.to_dict(), "clipping": clipping, "device": device, "threads": torch.get_num_threads(),
           "torch": torch.__version__}
    for _ in range(warmup):
        step(*next(it))
    sync()
    if steps:
        t0 = time.perf_counter()
        for _ in range(steps):
            step(*next(it))
        sync()
        s = time.perf_counter() - t0
        return out | {"steps": steps, "seconds": round(s, 2), "steps_per_sec": round(steps / s, 2)}
    n, points, next_eval, budget, paused = 0, [], eval_every, minutes * 60, 0.0
    check = 10 if device.startswith("cuda") else 1  # read the clock every few steps on a GPU (reading syncs)
    t_start = time.perf_counter()
    while True:
        step(*next(it))
        n += 1
        if n % check:
            continue
        sync()
        clock = time.perf_counter() - t_start - paused
        if clock >= next_eval or clock >= budget:
            te = time.perf_counter()
            val = evaluate(model, vx, vy)
            paused += time.perf_counter() - te
            points.append({"seconds": round(clock, 1), "steps": n, "val_loss": round(val, 4)})
            print(f"  torch {clock:6.0f} s {n:6d} steps  val {val:.4f}", file=sys.stderr, flush=True)
            next_eval += eval_every
            if clock >= budget:
                break
    return out | {"minutes": minutes, "steps": n, "seconds": round(clock, 1), "steps_per_sec": round(n / clock, 2),
                  "val_loss": points[-1]["val_loss"], "curve": points}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", choices=sorted(CONFIGS), default="identical")
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("--steps", type=int, default=0, help="time this many steps instead")
    p.add_argument("--warmup", type=int, default=0, help="steps trained first, neither timed nor counted")
    p.add_argument("--eval-every", type=float, default=60.0, help="seconds of training between validations")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: PyTorch's default)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        sys.exit("error: --device cuda but torch sees no CUDA device")
    config, clipping = CONFIGS[args.config]
    res = train(config, clipping, args.device, minutes=args.minutes, steps=args.steps, eval_every=args.eval_every,
                warmup=args.warmup)
    print(json.dumps(res | {"name": args.config}))


if __name__ == "__main__":
    main()
