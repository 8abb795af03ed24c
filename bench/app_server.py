"""A Streamlit app seen from a browser: this checkout's app on a free loopback port, ready when it answers, and
what the browser benchmarks and the browser tests (tests/e2e) both read of it: when a script run is over, and
the server's messages on the websocket."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# the app has finished its script run, is connected, and draws no placeholder: a click now is not lost to a rerun
IDLE_JS = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return !!app && app.getAttribute('data-test-script-state') === 'notRunning'
    && app.getAttribute('data-test-connection-state') === 'CONNECTED'
    && document.querySelectorAll('[data-testid="stSkeleton"]').length === 0;
}"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(env: dict[str, str], poll: float = 0.1) -> tuple[subprocess.Popen, str]:
    """Start `streamlit run app.py` with env and wait for its health check; (the process, its URL).

    A server that exits before it answers is an error, not a wait for ever.
    """
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
                             "--server.port", str(port), "--server.address", "127.0.0.1"],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the Streamlit server exited with code {proc.returncode} before it answered")
        try:
            if urllib.request.urlopen(url + "/_stcore/health", timeout=1).read() == b"ok":
                return proc, url
        except OSError:
            time.sleep(poll)


def wait_idle(page, timeout_ms: int = 120_000, polling: int = 100) -> None:
    page.wait_for_function(IDLE_JS, timeout=timeout_ms, polling=polling)


def forward_msg(payload):
    """A message from the Streamlit server (one protobuf ForwardMsg per websocket frame), or None."""
    from google.protobuf.message import DecodeError
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    if not isinstance(payload, bytes):
        return None
    try:
        return ForwardMsg.FromString(payload)
    except DecodeError:
        return None


def markdown_sent(payload) -> str | None:
    """The body of an st.markdown element the server sent in this frame, if it is one."""
    msg = forward_msg(payload)
    if msg is None or msg.WhichOneof("type") != "delta" or msg.delta.WhichOneof("type") != "new_element":
        return None
    element = msg.delta.new_element
    return element.markdown.body if element.WhichOneof("type") == "markdown" else None
