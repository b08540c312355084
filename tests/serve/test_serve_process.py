"""`graphalign serve` as a user runs it: a separate process, queried over HTTP, then stopped."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import httpx


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_graphalign_serve_answers_over_http_and_stops(toy_run):
    port = _free_port()
    command = [sys.executable, "-m", "graphalign", "serve", str(toy_run), "--port", str(port)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline, body = time.monotonic() + 120, None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                body = httpx.get(f"http://127.0.0.1:{port}/api/search", params={"text": "a cat"}, timeout=30).json()
                break
            except httpx.TransportError:
                time.sleep(0.2)
        assert body is not None and body["concept"], process.stderr.read() if process.poll() is not None else ""
        assert httpx.get(f"http://127.0.0.1:{port}/").status_code == 200
    finally:
        process.terminate()
        out, err = process.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/" in out and "Traceback" not in err


def test_graphalign_serve_refuses_a_bad_port_and_a_missing_run(toy_run, tmp_path):
    bad = subprocess.run(
        [sys.executable, "-m", "graphalign", "serve", str(toy_run), "--port", "70000"], capture_output=True, text=True
    )
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "--port" in bad.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "graphalign", "serve", str(tmp_path / "nothing")], capture_output=True, text=True
    )
    assert missing.returncode == 2 and missing.stderr.startswith("error: ") and "Traceback" not in missing.stderr
