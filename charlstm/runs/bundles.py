"""A run's bundle as bytes from a stranger: checked against the server's caps before anything is parsed.

The zip's end record, entry count and declared sizes are read first (runs/bounded.py), then each JSON member with a
size and depth bound; only then does anything look inside. The store's import (store.py) and the server's pages
(the key and config of an upload, before it is imported) read bundles through these.
"""

from __future__ import annotations

import zipfile

from charlstm.config import Config
from charlstm.runs import bounded
from charlstm.serve import limits as limits_mod
from charlstm.serve import settings as settings_mod


class StoreError(ValueError):
    """A run that cannot be found, read or accepted; the message is for the user."""


def open_bundle(data: bytes, limits: limits_mod.Limits) -> zipfile.ZipFile:
    """The bundle's zip, once its size, entry count and declared sizes are within the caps (StoreError if not)."""
    if len(data) > round(limits.max_bundle_mb * 1e6):  # in whole bytes: 0.123457 MB * 1e6 is 123456.99999999999
        raise StoreError(f"the bundle is {bounded.size(len(data))}; the limit is "
                         f"{bounded.size(limits.max_bundle_mb * 1e6)}")
    try:
        return bounded.open_zip(data, max_entries=limits.max_bundle_entries,
                                max_member=round(limits.max_bundle_file_mb * 1e6),
                                max_total=round(limits.max_bundle_unpacked_mb * 1e6))
    except bounded.BoundedError as e:
        raise StoreError(f"not a charlstm bundle: {e}") from None


def loads(member: bytes, name: str, limits: limits_mod.Limits):
    return bounded.loads(member, name, max_bytes=limits.max_json_kb * 1000, max_depth=limits.max_json_depth)


def bundle_json(data: bytes, name: str, limits: limits_mod.Limits | None):
    limits = limits or settings_mod.from_env()
    with open_bundle(data, limits) as z:
        try:
            return loads(bounded.read_member(z, name, limits.max_json_kb * 1000), name, limits)
        except bounded.BoundedError as e:
            raise StoreError(f"not a charlstm bundle: {e}") from None


def bundle_key(data: bytes, limits: limits_mod.Limits | None = None) -> str:
    """The run key a bundle says it holds (unchecked: import_bundle checks it); StoreError, in one sentence, when the
    bundle is refused. Safe in the server: nothing is inflated or parsed past the caps (charlstm/runs/bounded.py)."""
    meta = bundle_json(data, "meta.json", limits)
    key = meta.get("key") if isinstance(meta, dict) else None
    if not isinstance(key, str):
        raise StoreError("not a charlstm bundle: its meta.json names no run key")
    return key


def bundle_config(data: bytes, limits: limits_mod.Limits | None = None) -> Config:
    """The config a bundle says its run was trained with (for the server's caps, before the bundle is imported)."""
    try:
        return Config.from_dict(bundle_json(data, "config.json", limits))
    except (ValueError, TypeError, KeyError, AttributeError) as e:
        raise StoreError(f"not a charlstm bundle: its config.json is unreadable ({str(e)[:160]})") from None
