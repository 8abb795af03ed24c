"""Two visitors, A and B, on one public server (two AppTest sessions sharing the process, as on one server).

Everything A uploads, trains or imports is A's: B cannot list, open, make active, trace, generate
from, download, continue, cancel or delete it, by any widget, URL parameter or copied job id. A
bundle never replaces a run; a file name made of Markdown and HTML is drawn as the characters it is.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from test_app import TINY, TINY_FORM, goto, set_form, start_training, texts, upload_corpus, wait_for

from charlstm.serve import limits as limits_mod
from charlstm.serve import settings as settings_mod
from charlstm.serve import workspace as ws_mod
from charlstm.serve.jobs import live_managers

ROOT = Path(__file__).resolve().parents[1]
EVIL = "[x](https://example.com) <img src=x onerror=alert(1)> **b**.txt"
ENDLESS = 10_000


@pytest.fixture
def visitors(tmp_path, monkeypatch):
    """Two fresh browser sessions of the same public server (CHARLSTM_HOME shared, nothing else)."""
    monkeypatch.setenv("CHARLSTM_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("CHARLSTM_MODE", raising=False)
    for name in limits_mod.FIELDS:
        monkeypatch.delenv(settings_mod.env_name(name), raising=False)
    monkeypatch.setenv("CHARLSTM_MAX_EPOCHS", str(ENDLESS))
    pair = []
    for _ in range(2):
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
        pair.append(at)
    yield pair
    for m in live_managers():
        if tmp_path in m.store.root.parents:
            m.close()


def token(at: AppTest) -> str:
    return at.session_state["ws.token"]


def sidebar_text(at: AppTest) -> str:
    return " ".join(texts(at.sidebar.markdown)) + " " + " ".join(texts(at.sidebar.caption))


def test_each_visitor_gets_a_workspace_token_in_the_url_and_a_bad_one_gets_a_fresh_workspace(visitors):
    a, b = visitors
    ta, tb = token(a), token(b)
    assert ws_mod.valid_token(ta) and ws_mod.valid_token(tb) and ta != tb
    assert a.query_params["ws"] in (ta, [ta])
    assert "Public server" in sidebar_text(a)
    goto(a, "gates")  # a page switch keeps the token
    assert token(a) == ta and a.query_params["ws"] in (ta, [ta])
    # a reload is a new session: the URL brings the workspace back
    again = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    again.query_params["ws"] = ta
    again.run()
    assert token(again) == ta and not again.exception
    # a malformed link: a clear note and a fresh workspace, never a traceback
    bad = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    bad.query_params["ws"] = "<script>alert(1)</script>"
    bad.run()
    assert not bad.exception and token(bad) not in (ta, tb)
    assert any("That workspace link is not valid" in w for w in texts(bad.sidebar.warning))


def test_a_forged_link_opens_nothing_and_visitors_who_store_nothing_leave_no_folder(visitors, tmp_path):
    a, b = visitors
    for page in ("train", "corpus", "gates"):  # two visitors look around, store nothing
        goto(a, page)
        goto(b, page)
    third = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    third.run()
    goto(third, "train")
    assert len({token(a), token(b), token(third)}) == 3
    workspaces = tmp_path / "home" / "workspaces"
    assert not workspaces.exists() or list(workspaces.iterdir()) == []
    # a link with a token this server never minted: 64 '-', or one of the right shape but unsigned
    for forged, says in (("-" * 64, "That workspace link is not valid"),
                         ("-" * 44, "was not issued by this server"),
                         (token(a)[:22] + "x" * 22, "was not issued by this server")):
        visitor = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
        visitor.query_params["ws"] = forged
        visitor.run()
        assert not visitor.exception and token(visitor) != forged
        assert visitor.query_params["ws"] in (token(visitor), [token(visitor)])
        warned = texts(visitor.sidebar.warning)
        assert any(says in w for w in warned), warned
    assert not workspaces.exists() or list(workspaces.iterdir()) == []


@pytest.mark.slow
def test_a_second_visitor_cannot_reach_the_first_ones_runs_jobs_or_files(visitors, tmp_path):
    from charlstm.runs.store import RunStore
    from pages.common.resources import manager

    a, b = visitors
    # A uploads a text whose name is Markdown and HTML, and trains on it
    goto(a, "corpus")
    upload_corpus(a, EVIL, TINY.encode())
    goto(a, "train")
    set_form(a, **{**TINY_FORM, "epochs": ENDLESS})
    start_training(a)
    job_a = a.session_state["train.job_id"]
    assert len(job_a) >= 22 and not job_a.isdigit()
    assert a.query_params["job"] in (job_a, [job_a])

    # the name is shown as its characters: every markup character escaped, in the sidebar and on the page
    escaped = r"\[x\]\(https\:" + "\u2060" + r"//example.com\) \<img src=x onerror=alert\(1\)\> \*\*b\*\*.txt"
    assert escaped in " ".join(m.value for m in a.markdown)  # the Markdown source sent to the browser
    assert any(escaped in link.proto.label for link in a.sidebar.get("page_link"))  # "Training now: ..."

    # B sees none of A's job: not listed, no Cancel, not in the sidebar; A's job id in B's URL names nothing
    goto(b, "train")
    assert not any(b_.label == "Cancel" for b_ in b.button)
    assert not any("img" in link.proto.label for link in b.sidebar.get("page_link"))
    copied = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    copied.query_params["ws"] = token(b)
    copied.query_params["job"] = job_a  # copied from A's address bar
    copied.switch_page("pages/train.py").run()
    assert not copied.exception and "train.job_id" not in copied.session_state
    assert not any(x.label == "Cancel" for x in copied.button)
    assert manager().get(job_a) is not None and manager().get(job_a).active  # still A's, still running

    # A stops it after its first epoch (finished epochs kept: a run of A's); B still sees no run of A's
    got = manager().wait_for(job_a, lambda v: v.progress is not None and v.progress.epoch >= 2, timeout=240)
    assert got.status == "running", got.message
    a.run()
    next(x for x in a.button if x.label == "Cancel").click().run()
    wait_for(a, lambda s: manager().get(job_a) is not None and not manager().get(job_a).active)
    ended = manager().get(job_a)
    assert ended.status == "cancelled", ended.message
    spaces = ws_mod.Workspaces(tmp_path / "home", settings_mod.ServerSettings())
    (key,) = [r.key for r in spaces.shelf(token(a)).list()]
    goto(a, "train")
    assert a.selectbox(key="train.run").value == key

    goto(b, "train")
    assert not any(d.value is not None and "key" in d.value.columns and key in d.value["key"].tolist()
                   for d in b.dataframe)
    with pytest.raises(Exception):  # noqa: B017 (no run selector at all: B has no runs)
        b.selectbox(key="train.run")
    # B forces A's key as active (as a forged widget state would): the demo model stays
    b.session_state["active_run_key"] = key
    goto(b, "gates")
    assert b.session_state["active_run_key"] is None and "demo model" in sidebar_text(b)
    goto(b, "generate")
    assert "demo model" in sidebar_text(b)

    # a forged bundle: B imports A's exported run (its key collides with A's): it lands in B's workspace only
    bundle = spaces.shelf(token(a)).export_bundle(key)
    a_files = {p.name: p.read_bytes() for p in (spaces.path(token(a)) / "runs" / key).iterdir()}
    goto(b, "train")
    b.file_uploader(key="train.bundle").set_value(("run.zip", bundle, "application/zip")).run()
    assert any(f"Imported run {key[:8]}" in s for s in texts(b.success)), texts(b.error)
    assert (spaces.path(token(b)) / "runs" / key).is_dir()
    assert {p.name: p.read_bytes() for p in (spaces.path(token(a)) / "runs" / key).iterdir()} == a_files
    # and again: refused in words, nothing replaced
    b.file_uploader(key="train.bundle").set_value(("again.zip", bundle, "application/zip")).run()
    assert any("already stored here; an import never replaces a run" in e for e in texts(b.error))
    # B deleting "its" copy never touches A's
    b.button(key="train.delete").click().run()
    assert spaces.shelf(token(a)).get(key) is not None and spaces.shelf(token(b)).get(key) is None
    assert RunStore(spaces.path(token(a))).get(key) is not None


@pytest.mark.slow
def test_one_training_per_visitor_and_a_busy_server_says_where_you_would_be(visitors, monkeypatch):
    a, b = visitors
    monkeypatch.setenv("CHARLSTM_MAX_QUEUE", "1")  # read on every run: one place in the queue
    goto(a, "train")
    set_form(a, **{**TINY_FORM, "epochs": ENDLESS})
    start_training(a)
    assert any(s.startswith("Started job #") for s in texts(a.success))
    set_form(a, **{**TINY_FORM, "epochs": ENDLESS, "seed": 9})
    start_training(a)
    assert any("You already have a training" in w for w in texts(a.warning))
    goto(b, "train")
    set_form(b, **{**TINY_FORM, "epochs": ENDLESS, "seed": 11})
    start_training(b)
    assert any("Queued: job #" in i and "place 1 in the queue" in i for i in texts(b.info)), texts(b.info)
    third = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    third.run()
    goto(third, "train")
    set_form(third, **{**TINY_FORM, "epochs": ENDLESS, "seed": 12})
    start_training(third)
    assert any("The server is busy" in w and "You would be number 2 in the queue" in w for w in texts(third.warning))
    assert any("other visitor" in c for c in texts(third.caption))  # counts only, nothing about whose
    for who in (a, b):
        goto(who, "train")
        for x in [x for x in who.button if x.label == "Cancel"]:
            x.click().run()


LIAR = "report\u202etxt.exe\u200b"  # reads as "reportexe.txt" where the override is obeyed


def test_a_name_with_direction_overrides_is_shown_as_the_characters_it_holds(visitors, trained_run):
    from charlstm.runs.store import RunStore
    from charlstm.text.corpus import from_text, visible
    from pages.common.text import md

    assert visible(LIAR) == "report<U+202E>txt.exe<U+200B>" and visible("tab\there é") == "tab\there é"
    assert from_text(TINY, LIAR).name == visible(LIAR)
    assert "\u202e" not in md(LIAR) and "U+202E" in md(LIAR)
    # a bundle made elsewhere carries whatever name its maker typed: it is read back made visible
    store = RunStore(trained_run.path.parents[1])
    meta = trained_run.path / "meta.json"
    import json

    saved = meta.read_text(encoding="utf-8")
    try:
        meta.write_text(json.dumps({**json.loads(saved), "corpus_name": LIAR}), encoding="utf-8")
        run = store.get(trained_run.key)
        assert "\u202e" not in run.label and run.label.startswith("report<U+202E>txt.exe<U+200B> · ")
    finally:
        meta.write_text(saved, encoding="utf-8")
    # and on the page: the uploaded corpus's name, in the title, the sidebar and the Train page
    a, _ = visitors
    goto(a, "corpus")
    upload_corpus(a, LIAR, TINY.encode())
    shown = " ".join(texts(a.subheader) + texts(a.markdown) + texts(a.sidebar.markdown))
    assert "report<U+202E>txt.exe<U+200B>" in shown and "\u202e" not in shown
    goto(a, "train")
    shown = " ".join(texts(a.markdown) + texts(a.caption))
    assert "report<U+202E>txt.exe<U+200B>" in shown and "\u202e" not in shown
