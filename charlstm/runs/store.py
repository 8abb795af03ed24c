"""The run store: one folder per trained model, keyed by a hash of corpus text and config.

A run folder holds model.keras (Keras, with optimizer state, for resuming), weights.npz (the
same weights for the numpy stepper, so generation and tracing never import TensorFlow),
config.json, vocab.json, history.json and meta.json, and probes.npz when training traced a
probe text after every epoch (runs from before that have none). Writes go to a temporary folder that
is renamed into place, so a crash never leaves a half run that later loads. The demo shipped in the
package holds weights.npz alone (one copy of its weights; it is never continued), and its Keras model
is rebuilt from the config and those weights when one is asked for.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from charlstm import __version__
from charlstm.config import Config
from charlstm.insight.probes import Probes
from charlstm.model.lstm_np import Weights
from charlstm.runs import bounded
from charlstm.runs.bundles import StoreError, loads, open_bundle
from charlstm.serve import limits as limits_mod
from charlstm.serve import settings as settings_mod
from charlstm.text import baselines
from charlstm.text.corpus import Corpus, Vocab, visible

FILES = ("model.keras", "weights.npz", "config.json", "vocab.json", "history.json", "meta.json")
OPTIONAL = ("probes.npz",)  # kept and bundled when there; a run without them is whole
SHIPPED = tuple(f for f in FILES if f != "model.keras")  # the package's demo: weights.npz is its one copy


def run_key(corpus_sha: str, config: Config) -> str:
    """The cache key: the same corpus text and settings always give the same key."""
    return hashlib.sha256((corpus_sha + config.to_json()).encode()).hexdigest()[:16]


def default_home() -> Path:
    if os.environ.get("CHARLSTM_HOME"):
        return Path(os.environ["CHARLSTM_HOME"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "charlstm"


@dataclass
class Run:
    key: str
    path: Path
    config: Config
    vocab: Vocab
    history: dict
    meta: dict
    _weights: Weights | None = field(default=None, repr=False)

    @property
    def epochs_done(self) -> int:
        return int(self.meta.get("epochs_done", 0))

    @property
    def status(self) -> str:
        return self.meta.get("status", "complete")

    @property
    def best_epoch(self) -> int | None:
        """The epoch (1-based) whose weights the run holds: its lowest val loss; the last for older runs."""
        v = self.history.get("val_loss") or []
        best = self.history.get("best_epoch")
        return best if isinstance(best, int) and 1 <= best <= len(v) else (len(v) or None)

    @property
    def val_loss(self) -> float | None:
        """The val loss of the weights the run holds (its best epoch)."""
        v = self.history.get("val_loss") or []
        return v[self.best_epoch - 1] if v else None

    @property
    def baselines(self):
        """The uniform and unigram baselines of the run's split (baselines.py); None for runs stored before them."""
        return baselines.from_dict(self.history.get("baselines"))

    @property
    def samples(self) -> list[str]:
        """The sample written after each epoch, in epoch order ("" for an epoch trained before samples were kept)."""
        s = self.history.get("samples")
        return [x if isinstance(x, str) else "" for x in s] if isinstance(s, list) else []

    @property
    def label(self) -> str:
        c = self.config
        vl = f"val {self.val_loss:.3f}" if self.val_loss is not None else "no val loss"
        how = " · the tutorial's windows" if c.formulation == "window" else ""
        return (f"{self.meta.get('corpus_name', '?')} · {c.layers}×{c.units}{how} · "
                f"{self.epochs_done}/{c.epochs} ep · {vl} · {self.key[:8]}")

    @property
    def weights(self) -> Weights:
        if self._weights is None:
            self._weights = Weights.from_bytes((self.path / "weights.npz").read_bytes())
        return self._weights

    def probes(self) -> Probes | None:
        """The probe text's trace after every epoch, or None for a run trained without (or before) them."""
        try:
            return Probes.from_bytes((self.path / "probes.npz").read_bytes())
        except (OSError, ValueError):
            return None

    def keras_model(self):
        """The Keras model with its optimizer state, loaded safely and checked against our architecture.

        A run without model.keras (the shipped demo) gets the model built from its config with weights.npz's
        weights and a fresh optimizer: the same predictions, nothing to continue from."""
        from charlstm.model import network  # Keras: only where a model is loaded

        if not self.path.is_dir():
            raise StoreError(f"run {self.key} is no longer stored (it was deleted)")
        try:
            if not (self.path / "model.keras").is_file():
                return network.from_weights(self.config, len(self.vocab), self.weights)
            return network.load_checked(self.path / "model.keras", self.config, len(self.vocab))
        except ValueError as e:  # words already: what does not fit, or why the file cannot be loaded safely
            raise StoreError(f"run {self.key}: {e}") from None


def read_run(path: Path, files: tuple[str, ...] = FILES) -> Run:
    """Read a run folder's JSON and check it hangs together (the weights load lazily); files: those it must hold."""
    path = Path(path)
    missing = [f for f in files if not (path / f).is_file()]
    if missing:
        raise StoreError(f"{path.name}: missing {', '.join(missing)}")
    try:
        config = Config.from_dict(json.loads((path / "config.json").read_text()))
        vocab = Vocab.from_json((path / "vocab.json").read_text(encoding="utf-8"))
        history = json.loads((path / "history.json").read_text())
        meta = json.loads((path / "meta.json").read_text(encoding="utf-8"))
    except (ValueError, TypeError, KeyError) as e:
        raise StoreError(f"{path.name}: unreadable run files ({e})") from None
    if not isinstance(meta, dict) or not isinstance(history, dict) or "key" not in meta:
        raise StoreError(f"{path.name}: meta.json or history.json is malformed")
    if "corpus_name" in meta:  # an imported bundle's name is whatever its maker typed: shown as the characters it is
        meta["corpus_name"] = visible(meta["corpus_name"])
    return Run(key=meta["key"], path=path, config=config, vocab=vocab, history=history, meta=meta)


def _write_run_files(folder: Path, trained, corpus: Corpus, key: str, weights: Weights) -> None:
    trained.model.save(folder / "model.keras")
    (folder / "weights.npz").write_bytes(weights.to_bytes())
    (folder / "config.json").write_text(json.dumps(trained.config.to_dict(), indent=2, sort_keys=True))
    (folder / "vocab.json").write_text(trained.vocab.to_json(), encoding="utf-8")
    (folder / "history.json").write_text(json.dumps(trained.history))
    if getattr(trained, "probes", None) is not None:
        (folder / "probes.npz").write_bytes(trained.probes.to_bytes())
    import keras

    meta = {
        "key": key,
        "corpus_name": corpus.name,
        "corpus_sha256": corpus.sha256,
        "corpus_chars": len(corpus.text),
        "corpus_encoding": corpus.encoding,
        "vocab_size": len(trained.vocab),
        "params": int(trained.model.count_params()),
        "status": trained.status,
        "epochs_done": trained.epochs_done,
        "train_seconds": round(trained.train_seconds, 2),
        "chars_per_sec": round(trained.chars_per_sec, 1),
        "resumed_from": trained.resumed_from,
        "best_epoch": getattr(trained, "best_epoch", None),
        "stopped": getattr(trained, "stopped", None),
        "device": getattr(trained, "device", None),  # where it trained, in words (charlstm/model/devices.py)
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "charlstm_version": __version__,
        "keras_version": keras.__version__,
    }
    (folder / "meta.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")


def _exchange(a: Path, b: Path) -> bool:
    """Swap two folders atomically (Linux renameat2 with RENAME_EXCHANGE); False where that is not available.

    ctypes rather than a package: it is one system call, and os.replace cannot put a folder over a non-empty one.
    """
    if sys.platform != "linux":
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    AT_FDCWD, RENAME_EXCHANGE = -100, 2
    return renameat2(AT_FDCWD, os.fsencode(a), AT_FDCWD, os.fsencode(b), RENAME_EXCHANGE) == 0


class RunStore:
    def __init__(self, home: Path | str | None = None, create: bool = True, on_create=None):
        """create=False: the folder is made only when something is first stored (a visitor's workspace), and then
        on_create() is called (the workspace records its first use)."""
        self.root = Path(home) if home is not None else default_home()
        self.runs = self.root / "runs"
        self._on_create = on_create
        if create:
            self.runs.mkdir(parents=True, exist_ok=True)

    def _folders(self) -> list[Path]:
        """The run folders (and temporary ones), none when nothing was ever stored."""
        return list(self.runs.iterdir()) if self.runs.is_dir() else []

    def ready(self) -> Path:
        """The runs folder, made (and on_create called) when nothing was stored yet."""
        if not self.runs.is_dir():
            self.runs.mkdir(parents=True, exist_ok=True)
            if self._on_create is not None:
                self._on_create()
        return self.runs

    def path(self, key: str) -> Path:
        if not key or not all(ch in "0123456789abcdef" for ch in key):
            raise StoreError(f"not a run key: {key!r}")
        return self.runs / key

    def get(self, key: str) -> Run | None:
        p = self.path(key)
        return read_run(p) if p.is_dir() else None

    def find(self, prefix: str) -> Run:
        """A run by its key or a unique prefix of it, for the command line."""
        matches = [p for p in self._folders()
                   if p.is_dir() and p.name.startswith(prefix) and not p.name.startswith(".")]
        if not matches:
            raise StoreError(f"no stored run matches {prefix!r} (see `python -m charlstm runs`)")
        if len(matches) > 1:
            raise StoreError(f"{prefix!r} matches {len(matches)} runs; give more of the key")
        return read_run(matches[0])

    def list(self) -> list[Run]:
        """Every readable run, newest first; unreadable folders are skipped, never deleted."""
        out = []
        for p in self._folders():
            if p.is_dir() and not p.name.startswith("."):
                try:
                    out.append(read_run(p))
                except StoreError:
                    continue
        return sorted(out, key=lambda r: r.meta.get("created", ""), reverse=True)

    def save(self, trained, corpus: Corpus) -> Run:
        key = run_key(corpus.sha256, trained.config)
        weights = Weights.from_keras(trained.model)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{key}-", dir=self.ready()))
        try:
            _write_run_files(tmp, trained, corpus, key, weights)
            self._install(tmp, key)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        run = read_run(self.path(key))
        run._weights = weights
        return run

    def _install(self, tmp: Path, key: str) -> None:
        """Put a finished folder in place, replacing an older run of the same key in one step: a reader sees the
        old run or the new one whole, never neither and never a mix (a new epoch's checkpoint replaces the last)."""
        final = self.path(key)
        if final.exists() and _exchange(tmp, final):
            shutil.rmtree(tmp, ignore_errors=True)  # tmp now holds the old run
            return
        old = None
        if final.exists():  # no atomic exchange here (not Linux): two renames, a moment with no run of this key
            old = self.runs / f".old-{key}-{uuid.uuid4().hex[:8]}"
            final.rename(old)
        tmp.rename(final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)

    def discard_partial(self, key: str) -> None:
        """Remove what a save of `key` that never finished left behind (a worker killed mid-save)."""
        self.path(key)  # a real key, or StoreError
        for p in self.runs.glob(f".tmp-{key}-*"):
            shutil.rmtree(p, ignore_errors=True)

    def save_corpus(self, corpus: Corpus) -> None:
        """Keep the text a run was trained on, by hash, so the run can be continued later."""
        self.ready()
        folder = self.root / "corpora"
        folder.mkdir(exist_ok=True)
        target = folder / f"{corpus.sha256}.txt"
        if target.exists():
            return
        tmp = folder / f".tmp-{uuid.uuid4().hex}"
        tmp.write_bytes(corpus.text.encode("utf-8"))  # bytes: no newline translation may change the hash
        (folder / f"{corpus.sha256}.json").write_text(json.dumps({"name": corpus.name, "encoding": corpus.encoding}))
        tmp.rename(target)

    def load_corpus(self, sha256: str) -> Corpus | None:
        folder = self.root / "corpora"
        target = folder / f"{sha256}.txt"
        if not all(ch in "0123456789abcdef" for ch in sha256) or not target.is_file():
            return None
        info = json.loads((folder / f"{sha256}.json").read_text()) if (folder / f"{sha256}.json").is_file() else {}
        text = target.read_bytes().decode("utf-8")
        return Corpus(name=info.get("name", sha256[:8]), text=text, encoding=info.get("encoding", "utf-8"))

    def delete(self, key: str, keep_corpora=()) -> None:
        """Delete a run, and with it the corpus it was trained on when no other run (or keep_corpora) needs it."""
        p = self.path(key)
        if not p.is_dir():
            raise StoreError(f"no stored run {key}")
        trash = self.runs / f".del-{key}-{uuid.uuid4().hex[:8]}"
        p.rename(trash)  # gone from the listing at once, even if removal is slow
        shutil.rmtree(trash, ignore_errors=True)
        self.gc_corpora(keep_corpora)

    def gc_corpora(self, keep=()) -> list[str]:
        """Delete every stored corpus that no run of this store was trained on, except those in keep."""
        folder = self.root / "corpora"
        if not folder.is_dir():
            return []
        needed = set(keep)
        for p in self._folders():
            if p.is_dir() and not p.name.startswith("."):
                try:
                    needed.add(json.loads((p / "meta.json").read_text(encoding="utf-8")).get("corpus_sha256"))
                except (OSError, ValueError, AttributeError):
                    continue
        gone = []
        for f in folder.glob("*.txt"):
            if f.stem not in needed:
                f.unlink(missing_ok=True)
                (folder / f"{f.stem}.json").unlink(missing_ok=True)
                gone.append(f.stem)
        return gone

    def export_bundle(self, key: str) -> bytes:
        run = self.get(key)
        if run is None:
            raise StoreError(f"no stored run {key}")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
            for f in FILES + tuple(o for o in OPTIONAL if (run.path / o).is_file()):
                z.write(run.path / f, arcname=f)
        return buf.getvalue()

    def import_bundle(self, data: bytes, limits: limits_mod.Limits | None = None) -> Run:
        """Validate a bundle made by export_bundle and add it to the store; it never replaces a stored run.

        Sizes, entries and JSON are checked against limits (by default this environment's, limits.from_env)."""
        lim = limits or settings_mod.from_env()
        z = open_bundle(data, lim)
        with z:
            infos = {i.filename: i for i in z.infolist()}
            if not set(FILES) <= set(infos) <= set(FILES + OPTIONAL):
                raise StoreError("not a charlstm bundle: it must hold exactly " + ", ".join(FILES)
                                 + " (and " + ", ".join(OPTIONAL) + " when it has them)")
            tmp = Path(tempfile.mkdtemp(prefix=".import-", dir=self.ready()))
            try:
                for name in FILES + tuple(o for o in OPTIONAL if o in infos):  # fixed names: nothing lands outside
                    member = bounded.read_member(z, name, round(lim.max_bundle_file_mb * 1e6))
                    if name.endswith(".json"):
                        loads(member, name, lim)  # size and nesting checked before read_run parses it
                    (tmp / name).write_bytes(member)
                if "probes.npz" in infos:
                    try:
                        Probes.from_bytes((tmp / "probes.npz").read_bytes())
                    except ValueError as e:
                        raise StoreError(f"not a charlstm bundle: {e}") from None
                run = read_run(tmp)
                model = run.keras_model()  # safe_mode load + architecture check
                (tmp / "weights.npz").write_bytes(Weights.from_keras(model).to_bytes())  # trust Keras's copy
                key = run.key
                if run_key(run.meta.get("corpus_sha256", ""), run.config) != key:
                    raise StoreError("not a charlstm bundle: its key does not match its config and corpus")
                try:  # never over a stored run: a forged bundle with a stored run's key must not replace it
                    tmp.rename(self.path(key))
                except OSError:
                    raise StoreError(f"run {key[:8]} is already stored here; an import never replaces a run "
                                     "(delete it first to import it again)") from None
            except zipfile.BadZipFile as e:
                raise StoreError(f"the bundle is damaged: {e}") from None
            except bounded.BoundedError as e:
                raise StoreError(f"not a charlstm bundle: {e}") from None
            finally:
                shutil.rmtree(tmp, ignore_errors=True)
        return read_run(self.path(key))


def demo_run() -> Run:
    """The small model that ships with the package, so Gates and Generate work on first visit."""
    return read_run(Path(str(resources.files("charlstm").joinpath("data/demo"))), files=SHIPPED)
