"""Hostile bundles are refused in one sentence before anything in them is inflated or parsed past a cap."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from bundles import bomb, declared_sizes, many_entries, nested, replaced

from charlstm.runs import bounded
from charlstm.runs.bundles import bundle_key
from charlstm.runs.store import RunStore, StoreError
from charlstm.serve.limits import Limits

ROOT = str(Path(__file__).resolve().parents[1])


@pytest.fixture(scope="module")
def good(trained_run) -> bytes:
    return RunStore(trained_run.path.parents[1]).export_bundle(trained_run.key)


def hostile(good: bytes) -> dict[str, tuple[bytes, str]]:
    """name -> (bundle, what the one sentence must say)."""
    return {
        "bomb": (bomb(), "'meta.json' inside the bundle is 1,573 MB uncompressed; the limit is 200 MB a file"),
        "lying bomb": (bomb(lie=True), "meta.json"),
        "nested meta.json": (replaced(good, meta_json=nested()), "meta.json nests 100,000 levels deep"),
        "nested config.json": (replaced(good, config_json=nested()), "config.json nests 100,000 levels deep"),
        "many entries": (many_entries(good), "holds 5,"),
        "sizes past the total": (declared_sizes(good, 150_000_000), "MB uncompressed; the limit is 400 MB"),
        "not a zip": (b"PK" + b"\0" * 100, "not a zip archive"),
    }


CASES = ["bomb", "lying bomb", "nested meta.json", "nested config.json", "many entries", "sizes past the total",
         "not a zip"]


def one_sentence(message: str) -> None:
    assert "\n" not in message and "Traceback" not in message and ROOT not in message and "/tmp" not in message, message
    assert len(message) < 300, message


@pytest.mark.parametrize("case", CASES)
def test_the_server_reads_no_hostile_bundles_key(good, case):
    data, says = hostile(good)[case]
    if case == "nested config.json":  # the server reads only meta.json; the import process refuses the config
        assert bundle_key(data) == bundle_key(good)
        return
    with pytest.raises(StoreError) as e:
        bundle_key(data)
    assert says in str(e.value)
    one_sentence(str(e.value))


@pytest.mark.parametrize("case", CASES)
def test_import_refuses_each_hostile_bundle_and_keeps_the_store(tmp_path, good, case):
    store = RunStore(tmp_path / "home")
    kept = store.import_bundle(good)
    data, says = hostile(good)[case]
    with pytest.raises(StoreError) as e:
        store.import_bundle(data)
    assert says in str(e.value)
    one_sentence(str(e.value))
    assert [r.key for r in store.list()] == [kept.key]  # nothing stored is lost, nothing half-imported appears
    assert not [p for p in store.runs.iterdir() if p.name.startswith(".import-")]


@pytest.mark.parametrize("case", CASES)
def test_the_command_line_refuses_a_hostile_bundle_in_one_line(tmp_path, good, case):
    path = tmp_path / "bundle.zip"
    path.write_bytes(hostile(good)[case][0])
    env = dict(os.environ, CHARLSTM_HOME=str(tmp_path / "home"), PYTHONPATH=ROOT)
    r = subprocess.run([sys.executable, "-m", "charlstm", "import", str(path)], capture_output=True, text=True,
                       env=env, timeout=180, cwd=ROOT)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: not a charlstm bundle: "), r.stderr
    assert hostile(good)[case][1] in lines[0]


def test_json_depth_ignores_brackets_inside_strings():
    assert bounded.json_depth(b'{"a": "[[[[{{{{\\"[[["}') == 1
    assert bounded.json_depth('{"a": [[{"b": []}]]}') == 5
    assert bounded.loads('{"a": [1]}', "x.json") == {"a": [1]}
    with pytest.raises(bounded.BoundedError, match=r"x\.json nests 33 levels deep; the limit is 32"):
        bounded.loads("[" * 33 + "]" * 33, "x.json")
    with pytest.raises(bounded.BoundedError, match=r"x\.json is 11 bytes; the limit is 10"):
        bounded.loads(b'"123456789"', "x.json", max_bytes=10)
    with pytest.raises(bounded.BoundedError, match="not valid JSON"):
        bounded.loads("{", "x.json")


# ---- boundaries (each test here killed a mutant of `make mutate` that the others let live)
def _zip(n: int, size: int = 10, comment: bytes = b"") -> bytes:
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for i in range(n):
            z.writestr(f"f{i}", b"x" * size)
        z.comment = comment
    return buf.getvalue()


def test_each_zip_cap_allows_its_own_value_and_refuses_one_more():
    data = _zip(3, size=10)
    cd_size = int.from_bytes(data[-10:-6], "little")  # the end record's directory size
    bounded.open_zip(data, max_entries=3, max_directory=cd_size, max_member=10, max_total=30).close()
    for caps, says in (({"max_entries": 2}, "holds 3 files; a bundle holds at most 2"),
                       ({"max_directory": cd_size - 1}, f"directory is {cd_size:,} bytes"),
                       ({"max_member": 9}, "'f0' inside the bundle is"),
                       ({"max_total": 29}, "the bundle is 30 bytes uncompressed; the limit is 29 bytes")):
        with pytest.raises(bounded.BoundedError, match=re.escape(says)):
            bounded.open_zip(data, **caps)
    with bounded.open_zip(data) as z:
        assert bounded.read_member(z, "f0", 10) == b"x" * 10
        with pytest.raises(bounded.BoundedError, match="inflates past"):
            bounded.read_member(z, "f0", 9)
    assert bounded.loads(b"[[1]]", "x.json", max_bytes=5, max_depth=2) == [[1]]  # at both caps exactly


def test_a_zip64_end_record_and_an_empty_zip_are_refused_in_words(tmp_path):
    data = bytearray(_zip(1))
    data[-12:-10] = (0xFFFF).to_bytes(2, "little")  # this disk's entry count: the ZIP64 marker
    with pytest.raises(bounded.BoundedError, match="ZIP64"):
        bounded.open_zip(bytes(data))
    with bounded.open_zip(_zip(0)) as z:  # an empty archive is a zip (its end record is all it has) ...
        assert z.infolist() == []
    with pytest.raises(StoreError, match="must hold exactly"):  # ... and not a bundle
        RunStore(tmp_path / "home").import_bundle(_zip(0))


def test_an_escaped_backslash_ends_before_the_closing_quote():
    assert bounded.json_depth(r'{"a": "x\\", "b": [[1]]}') == 3  # the string is x\ ; then two more levels


# ---- the caps are this server's settings (limits.Limits: CHARLSTM_* or st.secrets), wherever a bundle is read
def bundle_json(bundle: bytes, name: str) -> bytes:
    with zipfile.ZipFile(io.BytesIO(bundle)) as z:
        return z.read(name)


def bundle_caps(good: bytes) -> dict[str, tuple[bytes, Limits, str]]:
    """cap -> (a bundle the default caps take, the cap set just below what it needs, a regex of the refusal)."""
    with zipfile.ZipFile(io.BytesIO(good)) as z:
        infos = z.infolist()
    n, big = len(infos), max(infos, key=lambda i: i.file_size)
    total = sum(i.file_size for i in infos)
    meta = json.loads(bundle_json(good, "meta.json"))
    padded = replaced(good, meta_json=json.dumps(meta | {"note": "x" * 2000}).encode())  # meta.json past 2 kB
    deep = replaced(good, meta_json=json.dumps(meta | {"note": [[[1]]]}).encode())  # 4 levels deep
    return {
        "max_bundle_mb": (good, Limits(max_bundle_mb=(len(good) - 1) / 1e6),
                          re.escape(f"the bundle is {bounded.size(len(good))}; the limit is ")),
        "max_bundle_entries": (good, Limits(max_bundle_entries=n - 1),
                               re.escape(f"holds {n} files; a bundle holds at most {n - 1}")),
        "max_bundle_file_mb": (good, Limits(max_bundle_file_mb=(big.file_size - 1) / 1e6),
                               re.escape(f"'{big.filename}' inside the bundle is {bounded.size(big.file_size)} "
                                         "uncompressed")),
        "max_bundle_unpacked_mb": (good, Limits(max_bundle_unpacked_mb=(total - 1) / 1e6),
                                   re.escape(f"the bundle is {bounded.size(total)} uncompressed; the limit is ")),
        "max_json_depth": (deep, Limits(max_json_depth=3), r"meta\.json nests 4 levels deep; the limit is 3"),
        # the server's bounded read stops first; the import process reads the file whole, then weighs it
        "max_json_kb": (padded, Limits(max_json_kb=2),
                        r"meta\.json (inside the bundle inflates past 2 kB|is 2,\d{3} bytes; the limit is 2,000)"),
    }


@pytest.mark.parametrize("cap", ["max_bundle_mb", "max_bundle_entries", "max_bundle_file_mb",
                                 "max_bundle_unpacked_mb", "max_json_depth", "max_json_kb"])
def test_each_bundle_cap_is_a_server_setting_in_the_server_and_the_import(tmp_path, good, cap):
    data, lim, says = bundle_caps(good)[cap]
    assert bundle_key(data, Limits()) == bundle_key(good)  # the default caps take it
    with pytest.raises(StoreError) as e:
        bundle_key(data, lim)  # what the page reads in the server ...
    assert re.search(says, str(e.value)), str(e.value)
    one_sentence(str(e.value))
    store = RunStore(tmp_path / "home")
    with pytest.raises(StoreError, match=says):
        store.import_bundle(data, lim)  # ... and what the import process checks
    assert store.list() == []


def test_the_servers_caps_travel_to_the_import_process_and_the_environment_sets_them(tmp_path, good, monkeypatch):
    """The page hands its Limits (st.secrets included) to `python -m charlstm import`; the command line reads them
    from CHARLSTM_* like every other cap."""
    from charlstm.serve.worker import import_bundle

    _, lim, says = bundle_caps(good)["max_bundle_entries"]
    store = RunStore(tmp_path / "home")
    with pytest.raises(StoreError, match=says):
        import_bundle(store, good, limits=lim)
    assert store.list() == []
    monkeypatch.setenv("CHARLSTM_MAX_BUNDLE_ENTRIES", str(lim.max_bundle_entries))
    with pytest.raises(StoreError, match=says):
        store.import_bundle(good)
    assert import_bundle(store, good, limits=Limits()).key == bundle_key(good, Limits())  # the page's own caps win


def test_the_train_page_shows_one_sentence_for_each_hostile_bundle(fresh_app, good):
    from test_app import goto, texts

    at = fresh_app
    goto(at, "train")
    for case in CASES:
        data, says = hostile(good)[case]
        at.file_uploader(key="train.bundle").set_value((f"{case}.zip", data, "application/zip")).run()
        assert not at.exception, case
        shown = [e for e in texts(at.error) if f"{case}.zip was not imported: " in e]
        assert len(shown) == 1 and says in shown[0], (case, texts(at.error))
        one_sentence(shown[0])
    assert any("No trained runs yet" in c for c in texts(at.caption)), texts(at.caption)  # nothing was imported
