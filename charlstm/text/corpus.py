"""Corpus loading: bytes to text, the character vocabulary, and the training pairs it yields."""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

DEFAULT_MAX_BYTES = 10_000_000  # refuse larger uploads: a shared server has little memory
DEFAULT_MAX_VOCAB = 256  # distinct characters kept; rarer ones fold into PLACEHOLDER
PLACEHOLDER = "\ufffd"  # the Unicode replacement character stands for every folded rarity
BUILTIN_NAME = "tiny Shakespeare"


class CorpusError(ValueError):
    """Bad corpus input, with a message meant for the person who supplied it."""


@dataclass(frozen=True)
class Corpus:
    name: str
    text: str
    encoding: str  # how the bytes were decoded, for the user to check
    notes: tuple[str, ...] = ()  # everything we changed or noticed, said out loud

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()

    def __len__(self) -> int:
        return len(self.text)


def human_size(n: int) -> str:
    for unit, size in (("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.3g} {unit}"
    return f"{n} bytes"


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode an uploaded file; returns (text, encoding used). Raises CorpusError for binary data."""
    for bom, enc in ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"),
                     (codecs.BOM_UTF16_BE, "utf-16")):
        if data.startswith(bom):
            try:
                return data.decode(enc), enc
            except UnicodeDecodeError as e:
                raise CorpusError(f"the file starts with a {enc} byte-order mark but is not valid {enc}: "
                                  f"{e.reason}") from None
    if b"\x00" in data:
        raise CorpusError("this looks like a binary file (it contains NUL bytes), not text")
    try:
        text, enc = data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        try:
            text, enc = data.decode("cp1252"), "cp1252"
        except UnicodeDecodeError:  # cp1252 leaves five bytes undefined; latin-1 maps every byte
            text, enc = data.decode("latin-1"), "latin-1"
    control = sum(1 for ch in text if unicodedata.category(ch) == "Cc" and ch not in "\n\r\t\f")
    if text and control / len(text) > 0.05:
        raise CorpusError(f"this looks like a binary file ({control / len(text):.0%} control characters), not text")
    return text, enc


def from_bytes(data: bytes, name: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Corpus:
    """A corpus from an uploaded file's bytes, with size and content checks (a server passes its own cap,
    CHARLSTM_MAX_CORPUS_MB, from serve.limits; this layer reads no settings)."""
    cap = max_bytes
    if len(data) > cap:
        raise CorpusError(f"the file is {human_size(len(data))}; the limit is {human_size(cap)}")
    if not data.strip():
        raise CorpusError("the file is empty")
    text, enc = decode_bytes(data)
    return from_text(text, name, encoding=enc)


# Characters a name may not carry as they are: controls (Cc), format characters (Cf: the bidirectional overrides
# U+202A-202E and isolates U+2066-2069 that make `report\u202etxt.exe` read as another name, zero-width
# characters, soft hyphens), line and paragraph separators, surrogates and private use.
_HIDDEN = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co"}


def visible(name: object) -> str:
    """A name (file name, corpus, run label) with every invisible or direction-changing character made visible as
    <U+XXXX>, so it reads as the characters it holds, in the order it holds them."""
    return "".join(f"<U+{ord(c):04X}>" if c != "\t" and unicodedata.category(c) in _HIDDEN else c for c in str(name))


def from_text(text: str, name: str, encoding: str = "utf-8") -> Corpus:
    name = visible(name)
    notes = []
    if "\r\n" in text:  # Windows line endings would make every newline two characters
        text = text.replace("\r\n", "\n")
        notes.append("converted Windows line endings (CR LF) to LF")
    if not text.strip():
        raise CorpusError("the text is empty")
    return Corpus(name=name, text=text, encoding=encoding, notes=tuple(notes))


def builtin() -> Corpus:
    """The public-domain tiny Shakespeare corpus that ships with the package."""
    data = resources.files("charlstm").joinpath("data/tinyshakespeare.txt").read_bytes()
    return from_bytes(data, BUILTIN_NAME, max_bytes=len(data))


def load_path(path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Corpus:
    """A corpus from a file path, or the built-in one for 'shakespeare' / 'builtin'; at most max_bytes."""
    if path in ("shakespeare", "builtin"):
        return builtin()
    try:
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise CorpusError(f"cannot read {path}: {e.strerror}") from None
    return from_bytes(data, os.path.basename(path), max_bytes=max_bytes)


def min_length(seq_len: int, val_fraction: float) -> int:
    """Shortest text that gives one training and one validation sequence."""
    need = seq_len + 1
    return max(int(np.ceil(need / val_fraction)), int(np.ceil(need / (1 - val_fraction))))


def check_length(text: str, seq_len: int, val_fraction: float) -> None:
    n = min_length(seq_len, val_fraction)
    if len(text) < n:
        raise CorpusError(
            f"the text has {len(text):,} characters; with sequence length {seq_len} and "
            f"{val_fraction:.0%} held out for validation it needs at least {n:,}")


def prepare(text: str, lowercase: bool) -> str:
    """The text as the model sees it: the only transformation is the remembered lowercase option."""
    return text.lower() if lowercase else text


@dataclass(frozen=True)
class Vocab:
    chars: tuple[str, ...]  # sorted; index = integer id
    counts: tuple[int, ...] = ()  # occurrences in the corpus it was built from
    folded: dict[str, int] = field(default_factory=dict)  # rare characters mapped to PLACEHOLDER

    @classmethod
    def build(cls, text: str, max_size: int = DEFAULT_MAX_VOCAB) -> Vocab:
        counts = Counter(text)
        folded: dict[str, int] = {}
        if len(counts) > max_size:  # keep the most frequent, fold the tail into one id
            keep = dict(counts.most_common(max_size - 1))
            folded = {ch: n for ch, n in counts.items() if ch not in keep}
            keep[PLACEHOLDER] = keep.get(PLACEHOLDER, 0) + sum(folded.values())
            counts = Counter(keep)
        chars = tuple(sorted(counts))
        return cls(chars=chars, counts=tuple(counts[c] for c in chars), folded=folded)

    def __len__(self) -> int:
        return len(self.chars)

    @property
    def stoi(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.chars)}

    @property
    def itos(self) -> dict[int, str]:
        return dict(enumerate(self.chars))

    def missing(self, text: str) -> list[str]:
        """Characters of text the vocabulary cannot encode (folded ones encode as PLACEHOLDER)."""
        stoi = self.stoi
        return sorted({c for c in text if c not in stoi and c not in self.folded})

    def encode(self, text: str, drop_unknown: bool = False) -> np.ndarray:
        stoi = self.stoi
        ph = stoi.get(PLACEHOLDER)
        if not drop_unknown:
            bad = self.missing(text)
            if bad:
                raise CorpusError("characters not in the model's vocabulary: " + ", ".join(char_label(c) for c in bad))
        ids = [stoi[c] if c in stoi else ph for c in text if c in stoi or (c in self.folded and ph is not None)]
        return np.asarray(ids, dtype=np.int32)

    def decode(self, ids) -> str:
        return "".join(self.chars[int(i)] for i in ids)

    def to_json(self) -> str:
        return json.dumps({"chars": list(self.chars), "counts": list(self.counts), "folded": self.folded},
                          ensure_ascii=False)

    @classmethod
    def from_json(cls, s: str) -> Vocab:
        d = json.loads(s)
        chars = d["chars"]
        if not isinstance(chars, list) or not all(isinstance(c, str) and len(c) == 1 for c in chars):
            raise ValueError("vocab.json: 'chars' must be a list of single characters")
        if len(set(chars)) != len(chars):
            raise ValueError("vocab.json: duplicate characters")
        return cls(chars=tuple(chars), counts=tuple(d.get("counts", ())), folded=dict(d.get("folded", {})))


_NAMES = {" ": "␣ space", "\n": "↵ newline", "\t": "⇥ tab", "\r": "␍ return", PLACEHOLDER: "� rare"}


def char_label(c: str) -> str:
    """A visible name for a character: spaces, newlines and other invisibles get names."""
    if c in _NAMES:
        return _NAMES[c]
    if unicodedata.category(c).startswith(("C", "Z")):
        return f"U+{ord(c):04X}"
    return c


def char_table(vocab: Vocab) -> list[dict]:
    """One row per character: label, integer id, count and share, for the mapping table."""
    total = sum(vocab.counts) or 1
    return [{"char": char_label(c), "id": i, "count": n, "share": n / total}
            for i, (c, n) in enumerate(zip(vocab.chars, vocab.counts, strict=True))]


def training_pairs(text: str, window: int, n: int = 8, stride: int | None = None) -> list[tuple[str, str]]:
    """The (window of characters, next character) pairs a model learns from: ALPHABE -> T."""
    stride = stride or max(1, window // 2)
    return [(text[i:i + window], text[i + window]) for i in range(0, len(text) - window, stride)][:n]


def shifted(text: str, seq_len: int) -> tuple[str, str]:
    """One training sequence as input and its one-character-shifted target."""
    return text[:seq_len], text[1:seq_len + 1]
