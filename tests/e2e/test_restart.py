"""A server restart loses nothing: a visitor trains, the server is stopped (SIGTERM, as a deploy or a restart
does; then SIGKILL), and the same link on the restarted server shows the run with its finished epochs, one click
from the end.

Its own server (three in turn on one CHARLSTM_HOME), since it stops them.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time

import pytest

from charlstm.serve.settings import ServerSettings
from charlstm.serve.workspace import Workspaces

from .conftest import VIEWPORT, running_server
from .test_browser import (
    PAGE_LOAD_MS,
    TRAIN,
    TRAIN_DONE_MS,
    heading,
    no_exception,
    open_page,
    progress,
    settle,
    shoot,
    upload_corpus,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]

EPOCHS = 8
STOP_S = 60  # a stopped server must be gone by then (Community Cloud, like Kubernetes, waits 30 s, then kills)


def runs_of(home, token: str):
    return Workspaces(home, ServerSettings()).shelf(token).own.list()


def stopped(srv, sig: int) -> float:
    """Send the server a signal; seconds until it has exited."""
    t0 = time.monotonic()
    srv.proc.send_signal(sig)
    try:
        srv.proc.wait(timeout=STOP_S)
    except subprocess.TimeoutExpired:
        pytest.fail(f"the server was still running {STOP_S} s after {signal.Signals(sig).name}", pytrace=False)
    return time.monotonic() - t0


def kept_after_restart(page, srv, token: str, at_least: int) -> int:
    """Open the same link on the restarted server: the interrupted run is listed with its finished epochs."""
    page.goto(f"{srv.url}/train?ws={token}", wait_until="domcontentloaded")
    heading(page, "Train").wait_for(timeout=PAGE_LOAD_MS)
    settle(page)
    warning = page.get_by_text(re.compile(rf"stopped after (\d+) of {EPOCHS} epochs: the server or its training"))
    warning.wait_for(timeout=PAGE_LOAD_MS)
    done = int(re.search(r"stopped after (\d+) of", warning.inner_text()).group(1))
    assert at_least <= done < EPOCHS, done
    no_exception(page)
    return done


def wait_for_worker_end(home, token: str, epochs: int) -> None:
    """After a SIGKILL of the server, its orphaned worker stores the run on its own: wait (bounded) for it."""
    deadline = time.monotonic() + TRAIN_DONE_MS / 1000
    while time.monotonic() < deadline:
        runs = runs_of(home, token)
        if runs and runs[0].history.get("stopped") == "interrupted" and runs[0].epochs_done >= epochs:
            return
        time.sleep(0.5)
    seen = [(r.key[:8], r.status, r.history.get("stopped"), r.epochs_done) for r in runs_of(home, token)]
    workers = subprocess.run(["pgrep", "-af", "charlstm.serve.worker"], capture_output=True, text=True).stdout
    folders = sorted(str(p.relative_to(home)) for p in home.glob("workspaces/*/runs/*"))
    pytest.fail(f"the orphaned worker stored no interrupted run with {epochs}+ epochs; the workspace holds {seen} "
                f"(key, status, stopped, epochs), its runs folder {folders}; worker processes alive: "
                f"{workers.strip() or 'none'}", pytrace=False)


def test_a_stopped_server_keeps_the_finished_epochs_and_one_click_finishes_the_run(browser, tmp_path_factory,
                                                                                     record_property):
    base = tmp_path_factory.mktemp("e2e-restart")
    home = base / "home"
    context = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
    page = context.new_page()
    try:
        with running_server(base, "first.log") as srv:
            page.goto(srv.url, wait_until="domcontentloaded")
            heading(page, "charlstm").wait_for(timeout=PAGE_LOAD_MS)
            upload_corpus(page)
            open_page(page, "Train", "Train")
            for label, value in {**TRAIN, "Batch size": 32, "Epochs": EPOCHS, "Early stopping (epochs)": 0}.items():
                page.get_by_label(label, exact=True).fill(str(value))
            page.get_by_role("button", name="Start training").click()
            page.get_by_text("Started job #1.").wait_for(timeout=PAGE_LOAD_MS)
            progress(page, "p.epoch >= 3", TRAIN_DONE_MS)  # two epochs finished, the third under way
            token = re.search(r"[?&]ws=([A-Za-z0-9_-]+)", page.url).group(1)
            record_property("sigterm_exit_s", round(stopped(srv, signal.SIGTERM), 2))
        (run,) = runs_of(home, token)  # the worker stored its finished epochs before the server exited
        assert run.epochs_done >= 2 and run.history["stopped"] == "interrupted", run.history.get("stopped")

        with running_server(base, "second.log") as srv:
            kept = kept_after_restart(page, srv, token, at_least=2)
            shoot(page, "train-interrupted")
            page.get_by_role("button", name=re.compile(rf"^Finish it: {EPOCHS - kept} more epochs?$")).click()
            page.get_by_text(f"Continuing run {run.key[:8]} for {EPOCHS - kept} more epoch(s)").wait_for(
                timeout=PAGE_LOAD_MS)
            progress(page, f"p.epoch >= {kept + 2}", TRAIN_DONE_MS)  # one more epoch finished on this server
            stopped(srv, signal.SIGKILL)  # no goodbye at all: the worker notices its server gone
            wait_for_worker_end(home, token, kept + 1)

        with running_server(base, "third.log") as srv:
            again = kept_after_restart(page, srv, token, at_least=kept + 1)
            page.get_by_role("button", name=re.compile(r"^Finish it: \d+ more epochs?$")).click()
            page.get_by_text(re.compile(r"Job #1 finished: run")).wait_for(timeout=TRAIN_DONE_MS)
            settle(page)
            (final,) = runs_of(home, token)
            assert final.key == run.key and final.epochs_done == EPOCHS and final.status == "complete"
            assert final.history["stopped"] == "epochs" and len(final.history["val_loss"]) == EPOCHS
            assert again > kept
            # how much of the quota is used, and that eviction would take nothing now: the one run was just used
            used = Workspaces(home, ServerSettings()).usage(token)[0]
            page.get_by_text(f"Your workspace holds {used / 1e6:,.1f} MB of its 100 MB. Nothing would be evicted now"
                             ).wait_for(timeout=PAGE_LOAD_MS)
            no_exception(page)
            shoot(page, "train-finished-after-restarts")
    finally:
        context.close()
