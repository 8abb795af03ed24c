"""Fixtures for the browser tests: a real `streamlit run app.py` server and Debian's chromium via Playwright.

Playwright never downloads a browser here: it launches /usr/bin/chromium. Without it (or without the
playwright package) the tests are skipped, except on CI (any CI other than empty, 0 or false), where that is a
failure.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import warnings
from pathlib import Path

import pytest
from conftest import on_ci  # tests/conftest.py

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("CHARLSTM_CHROMIUM", "/usr/bin/chromium")  # Debian's; never a downloaded one
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1400, "height": 1000}
SERVER_START_S = 120  # a busy 2-core machine imports streamlit, pandas and altair slowly
MISSING = "the browser tests need Playwright and Debian's chromium: pip install playwright; apt-get install chromium"


def _missing_browser(message: str) -> None:
    if on_ci():
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as r:
            return r.status == 200 and r.read().decode().strip() == "ok"
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server and everything it started (its own process group)."""
    if proc.poll() is not None:
        return
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


class Server:
    def __init__(self, url: str, home: Path, log: Path, proc: subprocess.Popen):
        self.url, self.home, self.log, self.proc = url, home, log, proc

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""


@contextlib.contextmanager
def running_server(base: Path, log_name: str = "streamlit.log"):
    """`streamlit run app.py` on a free port, with its run store (CHARLSTM_HOME) under base (empty the first time;
    a later server on the same base finds what the earlier one stored), killed after."""
    home, log = base / "home", base / log_name
    home.mkdir(exist_ok=True)
    port = _free_port()
    env = dict(os.environ, CHARLSTM_HOME=str(home), TF_CPP_MIN_LOG_LEVEL="2", PYTHONUNBUFFERED="1",
               CHARLSTM_MAX_EPOCHS="10000")  # a training that cannot end before a test cancels it
    env.pop("CHARLSTM_MODE", None)  # public mode, the default: the browser tests see what strangers see
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
           # no reload-on-save: watching the tree (.venv included) overflows inotify and costs CPU
           "--server.fileWatcherType", "none"]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    srv = Server(f"http://127.0.0.1:{port}", home, log, proc)
    deadline = time.monotonic() + SERVER_START_S
    try:
        while not _healthy(f"{srv.url}/_stcore/health"):
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited with {proc.returncode} before it served:\n{srv.log_text()}",
                            pytrace=False)
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not answer /_stcore/health within {SERVER_START_S} s:\n{srv.log_text()}",
                            pytrace=False)
            time.sleep(0.25)
        yield srv
    finally:
        _stop(proc)


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Server:
    """One server for the whole session (the journey's steps share it)."""
    with running_server(tmp_path_factory.mktemp("e2e-server")) as srv:
        yield srv


@pytest.fixture(scope="session")
def browser():
    if not os.path.exists(CHROMIUM):
        _missing_browser(f"{CHROMIUM} not found; {MISSING}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing_browser(f"the playwright package is not installed; {MISSING}")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


_sockets: dict[int, list] = {}  # id(page) -> the page's websockets, oldest first


def app_socket(page):
    """The page's open connection to the Streamlit server (a reload opens a new one)."""
    live = [ws for ws in _sockets.get(id(page), []) if "/_stcore/stream" in ws.url and not ws.is_closed()]
    assert live, "the page has no open connection to the app server"
    return live[-1]


@pytest.fixture(scope="module")
def page(browser, server):
    """One tab for a whole journey: Streamlit keeps the session (uploaded corpus, started job) per tab."""
    context = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="UTC")
    context.set_default_timeout(30_000)
    pg = context.new_page()
    sockets = _sockets[id(pg)] = []
    pg.on("websocket", lambda ws: sockets.append(ws))  # before the first goto: app_socket() reads the app's messages
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    try:
        yield pg
    finally:
        _sockets.pop(id(pg), None)
        context.close()
        if errors:
            warnings.warn("JavaScript errors in the page: " + " | ".join(errors[:10]), stacklevel=1)


# what a healthy server never logs: a Python traceback, an exception, Streamlit's warning for a widget given both
# a value= and a value through st.session_state
BAD_LOG = ("Traceback", "Exception", "was created with a default value")


@pytest.fixture(autouse=True)
def server_log_stays_clean(request):
    """After every browser test: the servers it used logged nothing in BAD_LOG while it ran, else it fails,
    with that part of the log. (A page that logs a traceback but shows nothing wrong is still a bug.)"""
    servers = [request.getfixturevalue(name) for name in request.fixturenames
               if name in ("server", "public_server", "fresh_server")]
    servers = [s for s in servers if isinstance(s, Server)]
    start = {id(s): len(s.log_text()) for s in servers}
    yield
    for s in servers:
        new = s.log_text()[start[id(s)]:]
        found = [bad for bad in BAD_LOG if bad in new]
        if found:
            pytest.fail(f"the server logged {found} during this test:\n{new[-5000:]}", pytrace=False)


def pytest_configure(config):
    config.addinivalue_line("markers", "journey: one step of a browser journey; after a failed step the rest skip")


_failed_step: dict[str, str] = {}  # module -> the journey step that failed


def pytest_runtest_setup(item):
    if item.get_closest_marker("journey") and item.module.__name__ in _failed_step:
        pytest.skip(f"an earlier step of the journey failed: {_failed_step[item.module.__name__]}")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """On a failing test, attach the server's log to the report and remember a failed journey step."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and item.get_closest_marker("journey"):
        _failed_step.setdefault(item.module.__name__, item.name)
    if report.when == "call" and report.failed:
        srv = item.funcargs.get("server")
        if isinstance(srv, Server):
            report.sections.append(("streamlit server log", srv.log_text()[-20_000:]))
