"""Command line: python -m charlstm {train,resume,generate,trace,clamp,match,units,runs,export,import,delete}."""

from __future__ import annotations

import argparse
import sys

from charlstm import __version__
from charlstm.cli.analysis import register
from charlstm.cli.insight import reading_commands
from charlstm.cli.runs import store_commands
from charlstm.cli.training import training_commands
from charlstm.runs.store import RunStore, StoreError
from charlstm.text.corpus import CorpusError


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m charlstm", description="Character-level LSTMs: train, trace, generate.")
    p.add_argument("--version", action="version", version=f"charlstm {__version__}")
    p.add_argument("--home", default=None, help="where runs are stored (default: $CHARLSTM_HOME or ~/.cache/charlstm)")
    sub = p.add_subparsers(dest="command", required=True)
    training_commands(sub)
    reading_commands(sub)
    register(sub)  # attribute, components, compare; trace --csv
    store_commands(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        store = RunStore(args.home)
        return args.fn(args, store)
    except BrokenPipeError:  # `... | head` is a normal way to read output
        return 0
    except KeyboardInterrupt:  # a second Ctrl-C during training, or one anywhere else: quit, quietly
        sys.stderr.write("\ninterrupted; nothing half-saved is kept\n")
        return 130
    except (CorpusError, StoreError, ValueError, OSError) as e:
        sys.stderr.write(f"error: {e}\n")
        return 2
