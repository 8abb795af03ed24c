"""Hostile run bundles, built here from a real one: zip bombs, nested JSON, too many entries (tests/test_bundles.py
and the browser test that imports one while watching the server's memory)."""

from __future__ import annotations

import functools
import io
import struct
import zipfile

BOMB_MB = 1500  # meta.json inflates to 1.5 GB; about 1.5 MB deflated


@functools.cache
def bomb(lie: bool = False) -> bytes:
    """A zip whose meta.json inflates to BOMB_MB megabytes. lie=True: its directory says it is 100 bytes."""
    if lie:
        data = bytearray(bomb())
        for sig, at in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):  # local header, directory: uncompressed size
            pos = data.find(sig)
            data[pos + at:pos + at + 4] = struct.pack("<I", 100)
        return bytes(data)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        with z.open("meta.json", "w", force_zip64=False) as f:
            f.write(b'{"key": "')
            chunk = b"0" * (1 << 20)
            for _ in range(BOMB_MB):
                f.write(chunk)
            f.write(b'"}')
    return buf.getvalue()


def replaced(bundle: bytes, **members: bytes) -> bytes:
    """The bundle with some members' bytes replaced (name: bytes; dots in names as underscores: meta_json)."""
    members = {k.replace("_json", ".json").replace("_npz", ".npz").replace("_keras", ".keras"): v
               for k, v in members.items()}
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(bundle)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, members.get(info.filename, src.read(info.filename)))
    return out.getvalue()


def nested(depth: int = 100_000) -> bytes:
    return b"[" * depth + b"]" * depth


def many_entries(bundle: bytes, n: int = 5000) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(bundle)) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            dst.writestr(info.filename, src.read(info.filename))
        for i in range(n):
            dst.writestr(f"x{i}", b"")
    return out.getvalue()


def declared_sizes(bundle: bytes, each: int) -> bytes:
    """The bundle with every member's uncompressed size in the directory set to `each` bytes (a lie, sums past caps)."""
    data = bytearray(bundle)
    pos = data.find(b"PK\x01\x02")
    while pos >= 0:
        data[pos + 24:pos + 28] = struct.pack("<I", each)
        pos = data.find(b"PK\x01\x02", pos + 4)
    return bytes(data)
