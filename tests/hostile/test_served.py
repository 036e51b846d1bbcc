"""The served app against a real Streamlit server (issue #20): a WebSocket upgrade carrying a Host the
app is not served under is refused (DNS rebinding), and ``changeboard serve`` hands signals to
Streamlit: a SIGTERM to the command stops the server and frees its port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.hostile.figures import FIGURES

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "app" / ".streamlit" / "config.toml"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _upgrade(port: int, host: str) -> str:
    """The status line the server answers a WebSocket upgrade with, for a ``Host`` and a matching
    ``Origin`` (what a hostile page that re-pointed its own name at 127.0.0.1 would send)."""
    request = (
        "GET /_stcore/stream HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        f"Origin: http://{host}:{port}\r\n"
        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: streamlit\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request.encode())
        return s.recv(4096).split(b"\r\n", 1)[0].decode()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = _free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "changeboard.cli",
            "serve",
            "--data-dir",
            str(tmp_path / "data"),
            "--port",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the cleanup below reaches any child
    )
    deadline = time.monotonic() + 90
    while not _listening(port):
        assert proc.poll() is None, "changeboard serve ended before it listened"
        assert time.monotonic() < deadline, "Streamlit did not listen within 90 s"
        time.sleep(0.25)
    try:
        yield proc, port
    finally:
        if proc.poll() is None:
            proc.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # a Streamlit child left behind, if any
        proc.wait(timeout=30)


def test_allowed_hosts_are_the_localhost_names() -> None:
    cfg = tomllib.loads(CONFIG.read_text(encoding="utf-8"))
    assert set(cfg["server"]["allowedHosts"]) == {"localhost", "127.0.0.1", "::1"}


def test_rebinding_host_is_refused_and_sigterm_frees_the_port(
    server: tuple[subprocess.Popen[bytes], int],
) -> None:
    proc, port = server
    evil = _upgrade(port, "evil.example")
    good = _upgrade(port, "localhost")
    print(f"\n[security] WebSocket upgrade: Host evil.example -> {evil!r}; Host localhost -> {good!r}")
    FIGURES.tried("websocket", "failed")
    assert " 101 " not in evil + " ", f"a WebSocket upgrade for Host evil.example was accepted: {evil}"
    FIGURES.handled("websocket", "failed")
    assert " 101 " in good + " ", good

    started = time.monotonic()
    os.kill(proc.pid, signal.SIGTERM)
    code = proc.wait(timeout=30)
    deadline = time.monotonic() + 30
    while _listening(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    print(
        f"[security] SIGTERM to changeboard serve: exit {code}, port free after {time.monotonic() - started:.1f} s"
    )
    assert not _listening(port), "the port is still held after SIGTERM to changeboard serve"
    FIGURES.note(f"SIGTERM to `changeboard serve`: the server stopped and freed port {port}")
