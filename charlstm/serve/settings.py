"""Every setting of the server, read in one place: the model caps (Limits) and the rest (ServerSettings).

Each setting has one name, CHARLSTM_ and the field's name in capitals, read from the environment or, taking
precedence, from an overrides mapping (the app passes its st.secrets; the library never reads st.secrets itself).
A malformed value raises ValueError naming the setting, so a misconfigured server says so instead of silently
applying a default. The other CHARLSTM_ variables belong to the process that trains or stores, each read in one
module: CHARLSTM_HOME (runs/store.py), CHARLSTM_TF_THREADS (model/network.py), CHARLSTM_STEPS_PER_EXECUTION
(training/trainer.py).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from charlstm.model.sampling import MAX_LENGTH  # the library's own ceiling: a cap above it could never be served
from charlstm.serve.limits import FIELDS, Limits

MODES = ("public", "personal")


def env_name(field: str) -> str:
    return "CHARLSTM_" + field.upper()  # max_units -> CHARLSTM_MAX_UNITS


def _parse(name: str, raw, kind: type) -> int | float:
    try:
        value = kind(raw)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a positive number, got {raw!r}") from None
    if isinstance(raw, bool) or value <= 0 or (kind is int and isinstance(raw, float) and not raw.is_integer()):
        raise ValueError(f"{name} must be a positive {'integer' if kind is int else 'number'}, got {raw!r}")
    return value


def from_env(environ: Mapping[str, str] | None = None, overrides: Mapping | None = None) -> Limits:
    """Limits from environment variables, with overrides (keys CHARLSTM_MAX_UNITS or max_units) on top.

    A malformed value raises ValueError naming the setting, so a misconfigured server says so
    instead of silently applying a default.
    """
    environ = os.environ if environ is None else environ
    overrides = overrides or {}
    kinds = {f.name: (float if f.type in ("float", float) else int) for f in dataclasses.fields(Limits)}
    values = {}
    for cap in FIELDS:
        name = env_name(cap)
        for source in (overrides.get(cap), overrides.get(name), environ.get(name)):
            if source is not None and source != "":
                values[cap] = _parse(name, source, kinds[cap])
                break
    if values.get("max_generate_length", 0) > MAX_LENGTH:
        raise ValueError(f"{env_name('max_generate_length')} must be at most {MAX_LENGTH:,}, "
                         f"got {values['max_generate_length']!r}")
    return Limits(**values)


def to_env(limits: Limits) -> dict[str, str]:
    """The limits as environment variables: a child process (the bundle checker) then applies the server's own."""
    return {env_name(f): repr(getattr(limits, f)) for f in FIELDS}


@dataclass(frozen=True)
class ServerSettings:
    mode: str = "public"
    max_queue: int = 8  # trainings waiting (not counting the running ones); more are refused with a message
    max_train_minutes: float = 20.0  # wall time per training; then it stops and keeps its finished epochs
    workspace_ttl_hours: float = 24.0  # a workspace unused this long is deleted with its corpora and runs
    workspace_mb: float = 100.0  # one workspace's runs and corpora; its least recently used runs go first
    store_mb: float = 400.0  # everything under CHARLSTM_HOME; Community Cloud gives an app a few GB of disk
    max_workers: int = 1  # trainings at once (each wants both cores of a small server); later ones queue
    cancel_grace_s: float = 30.0  # a cancelled worker's time to stop at a batch boundary before it is killed
    tf_threads: int = 1  # TensorFlow's intra-op threads in the process that trains
    secret: str = field(default="", repr=False)  # signs workspace tokens; empty: one kept under CHARLSTM_HOME

    @property
    def public(self) -> bool:
        return self.mode == "public"


SETTINGS = tuple(f.name for f in fields(ServerSettings))


def settings_from(environ: Mapping[str, str] | None = None, overrides: Mapping | None = None) -> ServerSettings:
    """The settings from the environment, with overrides (st.secrets: CHARLSTM_MODE or mode) on top.

    A malformed value raises ValueError naming the setting.
    """
    environ = os.environ if environ is None else environ
    overrides = overrides or {}
    values = {}
    for f in fields(ServerSettings):
        name = env_name(f.name)
        raw = next((s for s in (overrides.get(f.name), overrides.get(name), environ.get(name))
                    if s is not None and s != ""), None)
        if raw is None:
            continue
        if f.name == "secret":
            values["secret"] = str(raw)
        elif f.name == "mode":
            mode = str(raw).strip().lower()
            if mode not in MODES:
                raise ValueError(f"{name} must be public or personal, got {raw!r}")
            values["mode"] = mode
        else:
            values[f.name] = _parse(name, raw, int if f.type in ("int", int) else float)
    return ServerSettings(**values)


def public_here(environ: Mapping[str, str] | None = None) -> bool:
    """Whether this environment names public mode itself: the command line then applies the public server's caps
    (the server is public by default; the command line, a person's own tool, only when told)."""
    environ = os.environ if environ is None else environ
    return environ.get(env_name("mode"), "").strip().lower() == "public"
