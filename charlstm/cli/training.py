"""The training verbs: train and resume, in this process, through the app's own path (training/execute.py)."""

from __future__ import annotations

import sys
from pathlib import Path

from charlstm.cli.common import Bar, add_config_args, add_strategy_arg, config_from, fitted
from charlstm.config import Config, settings
from charlstm.model.devices import check_tf_config, failure_words, is_chief
from charlstm.runs.store import RunStore, StoreError, run_key
from charlstm.serve import settings as settings_mod
from charlstm.serve.job import time_problems
from charlstm.serve.settings import public_here, settings_from
from charlstm.text.baselines import sentence
from charlstm.text.corpus import CorpusError, load_path
from charlstm.training import fit as fit_mod
from charlstm.training.execute import execute, plan
from charlstm.training.progress import stop_words


def cmd_train(args, store: RunStore) -> int:
    """Train in this process, through the same path the app's worker takes (charlstm.training.execute.execute)."""
    import signal
    import threading


    if args.command == "resume":
        run = store.find(args.run)
        corpus = store.load_corpus(run.meta["corpus_sha256"])
        if corpus is None:
            raise StoreError("the corpus this run was trained on is not stored here; train it again from the file")
        if args.epochs < 1:
            raise ValueError("ask for at least one more epoch")
        config, resume_from = run.config.replace(epochs=run.epochs_done + args.epochs), run.key
        if public_here():  # on the public server's host, with its settings: the caps its Continue button applies

            problems = settings_mod.from_env().problems(config, corpus_bytes=len(corpus.text.encode("utf-8")))
            problems += time_problems(config, settings_from().max_train_minutes * 60)
            if problems:
                raise ValueError("not continued: " + "; ".join(problems) + " (CHARLSTM_MODE=public)")
    else:
        corpus = load_path(args.corpus, settings_mod.from_env().max_corpus_bytes)
        config, resume_from = config_from(args, corpus=corpus), None
    store = _worker_store(store, args.strategy)
    if args.command == "train" and args.preset == fit_mod.NAME:
        given = any(getattr(args, s.name) is not None for s in settings(Config))
        print(f"fitted to the corpus: {fitted(args, corpus).reason}"
              + (" (then the options given on top)" if given else ""), file=sys.stderr)
    what, resume_from = plan(store, corpus, config, resume_from)
    if what == "cached":
        key = run_key(corpus.sha256, config)
        print(f"loaded from cache: run {key} ({corpus.name}, same corpus and config)")
        return 0
    stop = threading.Event()

    def first_interrupt(*_):  # Ctrl-C: stop after the batches in hand and keep the finished epochs; twice: quit now
        stop.set()
        sys.stderr.write("\nstopping after the batches in hand (Ctrl-C again to quit at once)...\n")
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = signal.signal(signal.SIGINT, first_interrupt)
    try:
        outcome = execute(store, corpus, config, resume_from, on_progress=Bar(), should_stop=stop.is_set,
                          probe=getattr(args, "probe", None), strategy=args.strategy)
    except Exception as e:  # TensorFlow's distributed errors print whole tensors and pages of gRPC details
        if args.strategy == "none" or isinstance(e, CorpusError | StoreError) or _raised_here(e):
            raise
        raise ValueError(failure_words(e, args.strategy)) from None
    finally:
        signal.signal(signal.SIGINT, previous)
        sys.stderr.write("\n")
    if outcome.run is None:
        print(outcome.message)
        return 130 if stop.is_set() else 1
    run = outcome.run
    print(outcome.message)
    words = stop_words(run.history.get("stopped"), run.config)
    if words:
        print(f"it {words}")
    said = sentence(run.val_loss, run.baselines)
    if said:
        print(said)
    print(f"run {run.key}  val loss {run.val_loss:.4f} (epoch {run.best_epoch} of {run.epochs_done}, kept)  "
          f"{run.meta['chars_per_sec']:,.0f} chars/s  {run.meta['train_seconds']:.0f} s  "
          f"on {run.meta.get('device') or '?'}")
    if outcome.status == "complete":
        return 0
    return 130 if stop.is_set() else 1


def _raised_here(error: BaseException) -> bool:
    """Whether charlstm's own code raised it (its messages are words already), not TensorFlow or Keras."""
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    return tb is not None and Path(tb.tb_frame.f_code.co_filename).resolve().is_relative_to(Path(__file__).parents[1])


def _worker_store(store: RunStore, strategy: str) -> RunStore:
    """The store this process keeps its run in: under --strategy multiworker only the chief keeps it.

    Every worker trains and saves alike (as tf.distribute asks), the others into a temporary store
    that is removed when the process ends.
    """
    if strategy != "multiworker":
        return store
    import atexit
    import os
    import shutil
    import tempfile


    tf_config = check_tf_config(os.environ.get("TF_CONFIG"))
    task, everyone = tf_config["task"], [a for tasks in tf_config["cluster"].values() for a in tasks]
    sys.stderr.write(f"{task['type']} {task['index']}: waiting for every worker ({', '.join(everyone)}) "
                     "to start; each waits until all have\n")
    if is_chief(tf_config):
        return store
    tmp = tempfile.mkdtemp(prefix="charlstm-worker-")
    atexit.register(shutil.rmtree, tmp, True)
    sys.stderr.write("not the chief: this worker trains with the others, and the chief keeps the run\n")
    return RunStore(tmp)


def training_commands(sub) -> None:
    t = sub.add_parser("train", help="train a model on a text file (or 'shakespeare' for the built-in corpus)")
    t.add_argument("corpus", help="path to a text file, or 'shakespeare'")
    add_config_args(t)
    t.add_argument("--probe", default=None, help="a text traced after every epoch and kept with the run, to see "
                                                 "how its units learn (default: the tutorial's two sentences)")
    add_strategy_arg(t)
    t.set_defaults(fn=cmd_train)

    c = sub.add_parser("resume", help="continue a stored run for more epochs, from its optimizer state")
    c.add_argument("run", help="run key or unique prefix")
    c.add_argument("--epochs", type=int, default=1, help="how many more epochs (default: %(default)s)")
    add_strategy_arg(c, ("none", "mirrored"))  # several machines would each need the run: train those afresh
    c.set_defaults(fn=cmd_train)
