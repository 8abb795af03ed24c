"""Reading what a visitor uploads without letting it cost the server more than a fixed amount.

A zip's directory states each file's size, but the directory can lie, and a few kilobytes of
deflated data can inflate to gigabytes; Python's json has no depth limit and ends in a
RecursionError (with a traceback) on ten thousand nested brackets. So: the number of entries and
the directory's size are read from the zip's end record before zipfile parses the directory,
every member is inflated with a bounded read, and JSON is checked for size and nesting before
json.loads sees it. Each refusal is a BoundedError: one sentence, no path, no traceback.
"""

from __future__ import annotations

import io
import json
import struct
import zipfile

MAX_JSON_BYTES = 4_000_000  # history.json of a 200-epoch run with samples and curves is about 150 kB
MAX_JSON_DEPTH = 32  # charlstm's own JSON nests 4 deep at most
MAX_ZIP_ENTRIES = 16  # a bundle holds 7 files at most
MAX_ZIP_DIRECTORY = 64_000  # bytes of the zip's central directory: about 100 bytes an entry


def size(n: float) -> str:
    """A size in words: whole MB from 1 MB up (a cap lowered by a setting can be small, so kB and bytes below)."""
    return f"{n / 1e6:,.0f} MB" if n >= 1e6 else f"{n / 1e3:,.0f} kB" if n >= 1e3 else f"{int(n):,} bytes"


class BoundedError(ValueError):
    """Input refused before it could cost the server more than a cap; the message is one sentence."""


def json_depth(data: bytes | str) -> int:
    """The deepest nesting of [ and { in a JSON text, brackets inside strings not counted.

    Written here because json has no depth limit; a linear scan of the bytes, no recursion.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    depth = deepest = 0
    in_string = escaped = False
    for b in raw:
        if in_string:
            if escaped:
                escaped = False
            elif b == 0x5C:  # backslash
                escaped = True
            elif b == 0x22:  # closing quote
                in_string = False
        elif b == 0x22:
            in_string = True
        elif b in (0x5B, 0x7B):  # [ {
            depth += 1
            deepest = max(deepest, depth)
        elif b in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


def loads(data: bytes | str, what: str, max_bytes: int = MAX_JSON_BYTES, max_depth: int = MAX_JSON_DEPTH):
    """json.loads, after checking size and nesting; BoundedError (one sentence) for anything else."""
    size = len(data)
    if size > max_bytes:
        raise BoundedError(f"{what} is {size:,} bytes; the limit is {max_bytes:,}")
    depth = json_depth(data)
    if depth > max_depth:
        raise BoundedError(f"{what} nests {depth:,} levels deep; the limit is {max_depth}")
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as e:
        raise BoundedError(f"{what} is not valid JSON ({str(e).splitlines()[0][:120]})") from None


def _end_record(data: bytes) -> tuple[int, int]:
    """(entries, central directory bytes) from a zip's end-of-central-directory record, before zipfile reads it."""
    tail = data[-(22 + 65_535):]  # the record is 22 bytes plus a comment of at most 65,535
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < 22:
        raise BoundedError("the file is not a zip archive")
    _, _, _, entries, total, cd_size, _, _ = struct.unpack("<4sHHHHIIH", tail[at:at + 22])
    if entries == 0xFFFF or total == 0xFFFF or cd_size == 0xFFFFFFFF:
        raise BoundedError("the zip archive is in the ZIP64 format, which a bundle never needs")
    return max(entries, total), cd_size


def open_zip(data: bytes, max_entries: int = MAX_ZIP_ENTRIES, max_directory: int = MAX_ZIP_DIRECTORY,
             max_member: int | None = None, max_total: int | None = None) -> zipfile.ZipFile:
    """A ZipFile over data, once its entry count, directory size and declared sizes are within the caps."""
    entries, cd_size = _end_record(data)
    if entries > max_entries:
        raise BoundedError(f"the zip archive holds {entries:,} files; a bundle holds at most {max_entries}")
    if cd_size > max_directory:
        raise BoundedError(f"the zip archive's directory is {cd_size:,} bytes; the limit is {max_directory:,}")
    try:
        z = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError, OSError, NotImplementedError) as e:
        raise BoundedError(f"the zip archive is damaged ({e})") from None
    infos = z.infolist()
    if len(infos) > max_entries:  # the end record can understate
        z.close()
        raise BoundedError(f"the zip archive holds {len(infos):,} files; a bundle holds at most {max_entries}")
    if max_member is not None:
        big = max(infos, key=lambda i: i.file_size, default=None)
        if big is not None and big.file_size > max_member:
            z.close()
            raise BoundedError(f"{big.filename[:40]!r} inside the bundle is {size(big.file_size)} "
                               f"uncompressed; the limit is {size(max_member)} a file")
    if max_total is not None:
        total = sum(i.file_size for i in infos)
        if total > max_total:
            z.close()
            raise BoundedError(f"the bundle is {size(total)} uncompressed; the limit is {size(max_total)}")
    return z


def read_member(z: zipfile.ZipFile, name: str, max_bytes: int) -> bytes:
    """A member's bytes, inflating at most max_bytes + 1 of them: a directory that lies about sizes is caught."""
    try:
        with z.open(name) as f:
            data = f.read(max_bytes + 1)
    except KeyError:
        raise BoundedError(f"the bundle has no {name}") from None
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as e:
        raise BoundedError(f"{name} inside the bundle is damaged ({e})") from None
    if len(data) > max_bytes:
        raise BoundedError(f"{name} inside the bundle inflates past {size(max_bytes)}, the limit")
    return data
