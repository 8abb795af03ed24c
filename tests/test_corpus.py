import codecs
import os

import numpy as np
import pytest

from charlstm.text import corpus as C
from charlstm.text.corpus import PLACEHOLDER, CorpusError, Vocab


def test_utf8_plain_and_bom():
    assert C.decode_bytes("héllo".encode()) == ("héllo", "utf-8")
    assert C.decode_bytes(codecs.BOM_UTF8 + "héllo".encode()) == ("héllo", "utf-8-sig")


@pytest.mark.parametrize("enc", ["utf-16-le", "utf-16-be"])
def test_utf16_with_bom(enc):
    bom = codecs.BOM_UTF16_LE if enc.endswith("le") else codecs.BOM_UTF16_BE
    text, used = C.decode_bytes(bom + "to be, or not".encode(enc))
    assert text == "to be, or not" and used == "utf-16"


def test_cp1252_fallback_and_latin1():
    text, enc = C.decode_bytes("café “quoted”".encode("cp1252"))
    assert (text, enc) == ("café “quoted”", "cp1252")
    text, enc = C.decode_bytes(b"abc\x81def, and then plain text")  # 0x81 is undefined in cp1252
    assert enc == "latin-1" and text == "abc\x81def, and then plain text"


def test_binary_rejected():
    with pytest.raises(CorpusError, match="NUL"):
        C.decode_bytes(b"PK\x03\x04\x00\x00binary")
    with pytest.raises(CorpusError, match="control characters"):
        C.decode_bytes(bytes(range(1, 9)) * 20 + b"some text")


def test_empty_and_whitespace_rejected():
    for data in (b"", b"   \n\t "):
        with pytest.raises(CorpusError, match="empty"):
            C.from_bytes(data, "x.txt")


def test_size_cap(tmp_path):
    with pytest.raises(CorpusError, match=r"file is 5 kB; the limit is 1 kB"):
        C.from_bytes(b"a" * 5000, "big.txt", max_bytes=1000)
    with pytest.raises(CorpusError, match="limit"):
        C.from_bytes(b"a" * 101, "big.txt", max_bytes=100)
    assert C.from_bytes(b"a" * 100, "ok.txt", max_bytes=100).text == "a" * 100
    with pytest.raises(CorpusError, match="limit is 10 MB"):  # the text layer's own cap, read from no setting
        C.from_bytes(b"a" * (C.DEFAULT_MAX_BYTES + 1), "big.txt")
    (tmp_path / "big.txt").write_bytes(b"a" * 101)
    with pytest.raises(CorpusError, match="limit"):
        C.load_path(str(tmp_path / "big.txt"), max_bytes=100)


def test_the_command_line_applies_the_corpus_cap_from_its_environment(tmp_path):
    import subprocess
    import sys
    from pathlib import Path

    (tmp_path / "big.txt").write_bytes(b"ab\n" * 50)  # 150 bytes
    env = dict(os.environ, CHARLSTM_HOME=str(tmp_path / "home"), CHARLSTM_MAX_CORPUS_MB="0.0001")  # 100 bytes
    r = subprocess.run([sys.executable, "-m", "charlstm", "train", str(tmp_path / "big.txt"), "--epochs", "1"],
                       capture_output=True, text=True, env=env, timeout=120, cwd=Path(__file__).parents[1])
    assert r.returncode == 2 and "the limit is 100 bytes" in r.stderr and "Traceback" not in r.stderr


def test_too_short_says_how_long():
    assert C.min_length(64, 0.1) == 650
    with pytest.raises(CorpusError, match="at least 650"):
        C.check_length("x" * 649, 64, 0.1)
    C.check_length("x" * 650, 64, 0.1)


def test_windows_line_endings_are_said_not_silent():
    c = C.from_bytes(b"a\r\nb\r\n", "w.txt")
    assert c.text == "a\nb\n" and any("line endings" in n for n in c.notes)
    assert C.from_bytes(b"a\nb\n", "u.txt").notes == ()


def test_builtin_corpus():
    c = C.builtin()
    assert len(c.text) == 1_115_394 and c.text.startswith("First Citizen:")
    assert c.encoding == "utf-8" and len(Vocab.build(c.text)) == 65


def test_lowercase_is_the_only_transformation():
    assert C.prepare("Hello World", lowercase=True) == "hello world"
    assert C.prepare("Hello World", lowercase=False) == "Hello World"


def test_vocab_round_trip_and_counts():
    v = Vocab.build("hello world")
    assert v.chars == tuple(sorted(set("hello world")))
    assert dict(zip(v.chars, v.counts, strict=True))["l"] == 3
    ids = v.encode("world")
    assert ids.dtype == np.int32 and v.decode(ids) == "world"
    assert v.stoi["h"] == v.chars.index("h") and v.itos[v.stoi["h"]] == "h"
    assert Vocab.from_json(v.to_json()) == v


def test_vocab_missing_characters_named():
    v = Vocab.build("abc")
    with pytest.raises(CorpusError, match="x, z"):
        v.encode("axbz")
    assert v.decode(v.encode("axbz", drop_unknown=True)) == "ab"


def test_vocab_cap_folds_rare_characters():
    text = "a" * 50 + "b" * 40 + "c" * 30 + "d" * 2 + "e"
    v = Vocab.build(text, max_size=3)
    assert len(v) == 3 and PLACEHOLDER in v.chars
    assert v.folded == {"c": 30, "d": 2, "e": 1} or v.folded == {"d": 2, "e": 1, "c": 30}
    assert dict(zip(v.chars, v.counts, strict=True))[PLACEHOLDER] == 33
    assert v.decode(v.encode("abe")) == "ab" + PLACEHOLDER  # folded characters encode as the placeholder


def test_vocab_json_rejects_garbage():
    with pytest.raises(ValueError):
        Vocab.from_json('{"chars": ["ab"]}')
    with pytest.raises(ValueError):
        Vocab.from_json('{"chars": ["a", "a"]}')


def test_training_pairs_and_shift():
    assert C.training_pairs("ALPHABET", 7, n=1) == [("ALPHABE", "T")]
    pairs = C.training_pairs("abcdefghij", 3, n=10, stride=2)
    assert pairs[0] == ("abc", "d") and pairs[1] == ("cde", "f") and all(len(w) == 3 for w, _ in pairs)
    assert C.shifted("hello!", 5) == ("hello", "ello!")


def test_char_labels_visible():
    assert "space" in C.char_label(" ") and "newline" in C.char_label("\n") and "tab" in C.char_label("\t")
    assert C.char_label("a") == "a" and C.char_label("\x0b") == "U+000B"
    rows = C.char_table(Vocab.build("aab"))
    assert rows[0] == {"char": "a", "id": 0, "count": 2, "share": pytest.approx(2 / 3)}


def test_load_path_errors(tmp_path):
    with pytest.raises(CorpusError, match="cannot read"):
        C.load_path(str(tmp_path / "nope.txt"))
    p = tmp_path / "ok.txt"
    p.write_bytes(b"to be or not to be")
    assert C.load_path(str(p)).name == "ok.txt"
    assert C.load_path("shakespeare").name == C.BUILTIN_NAME
