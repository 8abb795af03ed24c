"""Private workspaces on a public server: tokens, what one visitor sees, and the disk they may use.

Two modes (CHARLSTM_MODE): **public**, the default wherever the app runs, gives every visitor a
private workspace; **personal** (`make run`) is one user, who sees everything in CHARLSTM_HOME,
command-line runs included.

On disk (public mode):
  $CHARLSTM_HOME/runs, corpora           shared, read only for visitors: runs trained on the built-in
                                          corpus (no private data in them; the second visitor who trains
                                          the default config gets it at once) and the command line's runs
                                          (never listed to visitors unless on the built-in corpus)
  $CHARLSTM_HOME/workspaces/<id>/runs, corpora   one visitor's uploads, trainings, imports
where <id> is a hash of the visitor's token: a directory listing never shows a usable token.
A token is minted by the server: a random part and its HMAC under the server's secret
(CHARLSTM_SECRET, else $CHARLSTM_HOME/secret, made once), so a link with a token the server never
issued opens no workspace, and nobody can choose the workspace a victim will fill. A workspace's
folder is made when something is first stored in it, not when a visitor opens a page.

Every function that decides what to delete takes the time from an injected clock, so tests use a
fake one and tiny caps.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path

from charlstm.runs.store import Run, RunStore, StoreError
from charlstm.serve.settings import ServerSettings
from charlstm.text.corpus import Corpus

NONCE_BYTES = 16  # 128 random bits, then 128 bits of HMAC-SHA256: 44 URL-safe characters in all
_TOKEN = re.compile(r"[A-Za-z0-9_-]{44}")
SECRET_FILE = "secret"  # under CHARLSTM_HOME, when no CHARLSTM_SECRET is set
USED = ".used"  # a file whose mtime is when a run or a workspace was last used
TOUCH_EVERY_S = 60.0  # last-used times need no finer grain; fewer writes
RECENT_S = 3600.0  # a run finished, trained, continued, read or downloaded this recently is never evicted


# ---- tokens
def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _signature(secret: bytes, nonce: str) -> str:
    return _b64(hmac.new(secret, nonce.encode(), hashlib.sha256).digest()[:16])


def mint(secret: bytes) -> str:
    """A new workspace token: 16 random bytes and their HMAC under the server's secret."""
    nonce = _b64(secrets.token_bytes(NONCE_BYTES))
    return nonce + _signature(secret, nonce)


def issued(secret: bytes, token: object) -> bool:
    """Whether this server minted the token (constant-time comparison of the signature)."""
    return valid_token(token) and hmac.compare_digest(token[22:], _signature(secret, token[:22]))


def valid_token(token: object) -> bool:
    """The shape of a token (44 URL-safe characters), whoever made it."""
    return isinstance(token, str) and _TOKEN.fullmatch(token) is not None


def load_secret(home: Path, configured: str = "") -> bytes:
    """The key that signs tokens: the configured one, else home/secret, made once (0600) and kept across restarts.

    Made with O_EXCL, so two server processes starting at once agree on one secret.
    """
    if configured:
        return configured.encode()
    path = Path(home) / SECRET_FILE
    for _ in range(50):
        with contextlib.suppress(FileNotFoundError):
            raw = path.read_bytes().strip()
            if len(raw) >= 32:
                return raw
        Path(home).mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{SECRET_FILE}-{secrets.token_hex(8)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_hex(32).encode())
        try:
            os.link(tmp, path)  # atomic, and fails if another process made it first: then read theirs
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    raise StoreError(f"cannot read the server's secret in {home}")


def workspace_id(token: str) -> str:
    """The folder name of a token's workspace: a hash, so the folder never gives the token away."""
    return hashlib.sha256(("charlstm-workspace:" + token).encode()).hexdigest()[:32]


# ---- what one visitor sees
class Shelf:
    """The runs one visitor may see and use: their own (read-write) and the shared ones (read only).

    In personal mode both are the same store and everything in it is listed.
    """

    def __init__(self, own: RunStore, shared: RunStore, builtin_sha: str | None, owner: str | None,
                 clock: Callable[[], float] = time.time):
        self.own, self.shared, self.builtin_sha, self.owner, self.clock = own, shared, builtin_sha, owner, clock

    @property
    def personal(self) -> bool:
        return self.owner is None

    def _shared_ok(self, run: Run) -> bool:
        return self.personal or run.meta.get("corpus_sha256") == self.builtin_sha

    def list(self) -> list[Run]:
        runs = self.own.list()
        if not self.personal:
            mine = {r.key for r in runs}
            runs += [r for r in self.shared.list() if self._shared_ok(r) and r.key not in mine]
        return sorted(runs, key=lambda r: r.meta.get("created", ""), reverse=True)

    def get(self, key: str) -> Run | None:
        """A run this visitor may use, or None; a malformed key is None too (it comes from a browser)."""
        try:
            run = self.own.get(key)
            if run is None and not self.personal:
                run = self.shared.get(key)
                if run is not None and not self._shared_ok(run):
                    return None
        except StoreError:
            return None
        if run is not None:
            touch(run.path, self.clock)
        return run

    def owns(self, key: str) -> bool:
        """Whether this visitor may delete the run (shared runs are read only in public mode)."""
        try:
            return self.own.get(key) is not None
        except StoreError:
            return False

    def store_of(self, key: str) -> RunStore:
        run = self.get(key)
        if run is None:
            raise StoreError(f"no stored run {key}")
        return self.own if run.path.parent == self.own.runs else self.shared

    def store_for(self, corpus: Corpus) -> RunStore:
        """Where a training of corpus is stored: the shared cache for the built-in corpus, else the workspace."""
        return self.shared if corpus.sha256 == self.builtin_sha else self.own

    def delete(self, key: str, keep: Iterable[str] = ()) -> None:
        if not self.owns(key):
            raise StoreError(f"run {key[:8]} is shared by every visitor and cannot be deleted here"
                             if self.get(key) is not None else f"no stored run {key}")
        self.own.delete(key, keep_corpora=keep)

    def export_bundle(self, key: str) -> bytes:
        run = self.get(key)
        if run is None:
            raise StoreError(f"no stored run {key}")
        with reading(run.path):
            return self.store_of(key).export_bundle(key)

    def import_refusal(self, key: str) -> str | None:
        if self.get(key) is not None:
            return f"run {key[:8]} is already stored here; an import never replaces a run"
        return None


# ---- runs that must not be evicted now
_pins: dict[Path, int] = {}
_pins_lock = threading.Lock()


@contextlib.contextmanager
def reading(path: Path):
    """Mark a run folder as being read (an export, a model load) so that eviction leaves it alone."""
    path = Path(path).resolve()
    with _pins_lock:
        _pins[path] = _pins.get(path, 0) + 1
    try:
        yield
    finally:
        with _pins_lock:
            _pins[path] -= 1
            if not _pins[path]:
                del _pins[path]


def pinned() -> set[Path]:
    with _pins_lock:
        return set(_pins)


def touch(folder: Path, clock: Callable[[], float] = time.time, force: bool = False) -> None:
    """Record that folder (a run or a workspace) was used now; at most once a minute unless forced."""
    now = clock()
    f = Path(folder) / USED
    with contextlib.suppress(OSError):
        if force or not f.exists() or now - f.stat().st_mtime > TOUCH_EVERY_S or f.stat().st_mtime > now:
            f.touch()
            os.utime(f, (now, now))


def last_used(folder: Path) -> float:
    for f in (Path(folder) / USED, Path(folder) / "meta.json", Path(folder)):
        with contextlib.suppress(OSError):
            return f.stat().st_mtime
    return 0.0


def size_of(folder: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(folder):
        for name in files:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(root, name)).st_size
    return total


# ---- the workspaces and the disk they use
class Workspaces:
    """Every visitor's workspace under home/workspaces, with the quota, the total cap and the expiry."""

    def __init__(self, home: Path | str, settings: ServerSettings, builtin_sha: str | None = None,
                 clock: Callable[[], float] = time.time):
        self.home = Path(home)
        self.root = self.home / "workspaces"
        self.settings, self.builtin_sha, self.clock = settings, builtin_sha, clock
        self.shared = RunStore(self.home)
        self.secret = load_secret(self.home, settings.secret)
        self._lock = threading.Lock()
        self._last_sweep = float("-inf")

    def new_token(self) -> str:
        return mint(self.secret)

    def issued(self, token: object) -> bool:
        return issued(self.secret, token)

    def path(self, token: str) -> Path:
        if not self.issued(token):
            raise StoreError("not a workspace token this server issued")
        return self.root / workspace_id(token)

    def exists(self, token: str) -> bool:
        return self.issued(token) and self.path(token).is_dir()

    def store(self, token: str) -> RunStore:
        """The token's own store; its folder is made when something is first stored in it. Marked as used now."""
        p = self.path(token)
        store = RunStore(p, create=False, on_create=lambda: touch(p, self.clock, force=True))
        if p.is_dir():
            touch(p, self.clock)
        return store

    def shelf(self, token: str | None) -> Shelf:
        """What the visitor with this token sees; in personal mode (or token None) everything in home."""
        if not self.settings.public or token is None:
            return Shelf(self.shared, self.shared, self.builtin_sha, None, self.clock)
        return Shelf(self.store(token), self.shared, self.builtin_sha, workspace_id(token), self.clock)

    # ---- limits
    def expire(self, busy: Iterable[Path] = ()) -> list[Path]:
        """Delete every workspace unused for workspace_ttl_hours, except one a job is using; returns them."""
        busy = {Path(b).resolve() for b in busy} | pinned()
        cutoff = self.clock() - self.settings.workspace_ttl_hours * 3600
        gone = []
        if not self.root.is_dir():
            return gone
        for ws in sorted(self.root.iterdir()):
            if not ws.is_dir() or ws.name.startswith("."):
                continue
            r = ws.resolve()
            if last_used(ws) < cutoff and not any(b == r or r in b.parents for b in busy):
                _remove(ws)
                gone.append(ws)
        return gone

    def _runs(self, store: RunStore) -> list[Path]:
        return [p for p in store.runs.iterdir() if p.is_dir() and not p.name.startswith(".")] \
            if store.runs.is_dir() else []

    def _workspace_stores(self) -> list[RunStore]:
        return [RunStore(w, create=False) for w in sorted(self.root.iterdir())
                if w.is_dir() and not w.name.startswith(".")] if self.root.is_dir() else []

    def _protected(self, busy: set[Path]) -> Callable[[Path], bool]:
        """Runs eviction leaves alone: trained or continued now, being read or downloaded (pinned), or used, finished
        or read within RECENT_S (a visitor on a page touches the run it shows at every rerun)."""
        recent = self.clock() - RECENT_S
        return lambda run: run.resolve() in busy or last_used(run) > recent

    def enforce(self, busy: Iterable[Path] = (), keep_corpora: Iterable[str] = ()) -> list[Path]:
        """Evict least recently used runs until each workspace is within its quota and the store within its cap.

        Least recently used first, the shared cache on equal terms with visitors' runs; never a protected run
        (see _protected). Where only protected runs are left, a cap stays exceeded until they age: new trainings
        are refused before they start meanwhile (refusal). Returns the evicted folders.
        """
        busy = {Path(b).resolve() for b in busy} | pinned()
        protected = self._protected(busy)
        evicted: list[Path] = []
        ws_quota = int(self.settings.workspace_mb * 1e6)
        workspaces = self._workspace_stores()
        for store in [*workspaces, self.shared]:  # corpora no run needs (a training that kept nothing)
            store.gc_corpora(keep_corpora)
            self._clear_leftovers(store)
        for store in workspaces:
            runs = [r for r in sorted(self._runs(store), key=last_used) if not protected(r)]
            while runs and size_of(store.root) > ws_quota:
                victim = runs.pop(0)
                store.delete(victim.name, keep_corpora=keep_corpora)
                evicted.append(victim)
        cap = int(self.settings.store_mb * 1e6)
        if size_of(self.home) > cap:
            everyone = sorted(((r, s) for s in [*workspaces, self.shared] for r in self._runs(s)),
                              key=lambda rs: last_used(rs[0]))
            for run, store in everyone:
                if size_of(self.home) <= cap:
                    break
                if not protected(run):
                    store.delete(run.name, keep_corpora=keep_corpora)
                    evicted.append(run)
        return evicted

    def usage(self, token: str | None) -> tuple[int, int, Path | None]:
        """(bytes a workspace holds, its quota, the run eviction would take first or None), for the page."""
        store = self.store(token) if token is not None and self.settings.public else self.shared
        protected = self._protected({Path(b).resolve() for b in pinned()})
        runs = [r for r in sorted(self._runs(store), key=last_used) if not protected(r)]
        used = size_of(store.root) if store.root.is_dir() else 0
        return used, int(self.settings.workspace_mb * 1e6), runs[0] if runs else None

    def refusal(self, token: str | None, need: int, busy: Iterable[Path] = ()) -> str | None:
        """Why a new training of about `need` bytes cannot start without deleting a protected run; None if it can.

        Counts what eviction could free (the unprotected runs), in the workspace and in the whole store."""
        if not self.settings.public:
            return None
        protected = self._protected({Path(b).resolve() for b in busy} | pinned())
        checks = []
        if token is not None:
            store = self.store(token)
            kept = sum(size_of(r) for r in self._runs(store) if protected(r))
            other = (size_of(store.root) if store.root.is_dir() else 0) - sum(size_of(r) for r in self._runs(store))
            checks.append(("your workspace", kept + other, int(self.settings.workspace_mb * 1e6)))
        everyone = [r for s in [*self._workspace_stores(), self.shared] for r in self._runs(s)]
        kept = sum(size_of(r) for r in everyone if protected(r))
        other = (size_of(self.home) if self.home.is_dir() else 0) - sum(size_of(r) for r in everyone)
        checks.append(("this server's store", kept + other, int(self.settings.store_mb * 1e6)))
        for where, used, cap in checks:
            if used + need > cap:
                return (f"{where} holds {used / 1e6:,.1f} MB that cannot be freed now (runs trained, read or "
                        f"downloaded in the last hour, or in use) and this run needs about {need / 1e6:,.1f} MB; "
                        f"the limit is {cap / 1e6:,.0f} MB. Delete a run you no longer need, or try again later")
        return None

    def _clear_leftovers(self, store: RunStore) -> None:
        """Remove what a save, a replacement or a delete killed half-way left in runs/ (a worker and its server
        killed mid-save, a machine restart): hidden, never listed, but counted against the quota. Only those older
        than RECENT_S: a save takes seconds, and a live worker may be writing a younger one now."""
        cutoff = self.clock() - RECENT_S
        for p in store.runs.iterdir() if store.runs.is_dir() else ():
            if p.name.startswith((".tmp-", ".old-", ".del-", ".import-")) and last_used(p) < cutoff:
                shutil.rmtree(p, ignore_errors=True)

    def sweep(self, busy: Iterable[Path] = (), keep_corpora: Iterable[str] = (), every_s: float = 60.0,
              force: bool = False) -> bool:
        """expire() and enforce(), at most once every every_s seconds (pages call it on every run)."""
        busy = list(busy)
        with self._lock:
            now = self.clock()
            if not force and now - self._last_sweep < every_s:
                return False
            self._last_sweep = now
            self.expire(busy)
            self.enforce(busy, keep_corpora)
            return True


def _remove(folder: Path) -> None:
    trash = folder.with_name(f".del-{folder.name}-{secrets.token_hex(4)}")
    try:
        folder.rename(trash)  # gone at once, even if removal is slow
    except OSError:
        trash = folder
    shutil.rmtree(trash, ignore_errors=True)
