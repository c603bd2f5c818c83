"""A real pre-fork server: gunicorn with ``--preload`` builds the client in
its master, uses it there, then forks two workers that serve a WSGI app
calling the mesh. Every worker gets a working engine of its own; nothing
hangs."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from conftest import Scenario

APP = """
import os
from proxyless_mesh import Client

# Built in gunicorn's master (--preload), and used there, before the fork.
mesh = Client(config_file=os.environ["MESH_CONFIG"])
assert mesh.request("GET", "http://order-service/orders").status == 200


def app(environ, start_response):
    answer = mesh.request("GET", "http://order-service/orders", timeout=5.0)
    body = f"{os.getpid()} {answer.status} {answer.text()}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
"""


def test_gunicorn_workers_forked_after_the_client_use_the_mesh(
    tmp_path: Path, scenario: Scenario
) -> None:
    (tmp_path / "meshapp.py").write_text(APP)
    config = tmp_path / "mesh.yaml"
    config.write_text(scenario.yaml)
    log = tmp_path / "gunicorn.log"
    command = [sys.executable, "-m", "gunicorn", "--preload", "--workers", "2"]
    command += ["--bind", "127.0.0.1:0", "--chdir", str(tmp_path), "--error-logfile", str(log)]
    command += ["--graceful-timeout", "5", "meshapp:app"]
    server = subprocess.Popen(command, env=dict(os.environ, MESH_CONFIG=str(config)))
    try:
        port = _listening_port(log, server)
        answers = [_get(f"http://127.0.0.1:{port}/") for _ in range(40)]
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
            pytest.fail("gunicorn did not stop")
    pids = {pid for pid, _, _ in answers}
    assert server.pid not in pids, "the workers answered, not the master"
    assert all(status == "200" for _, status, _ in answers), answers
    assert all(backend in ("v1-a", "v1-b", "v2") for _, _, backend in answers), answers


def _listening_port(log: Path, server: subprocess.Popen) -> int:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"gunicorn exited: {log.read_text() if log.exists() else ''}")
        text = log.read_text() if log.exists() else ""
        booted = len(re.findall(r"Booting worker with pid", text))
        found = re.search(r"Listening at: http://127\.0\.0\.1:(\d+)", text)
        if found and booted >= 2:
            return int(found.group(1))
        time.sleep(0.05)
    pytest.fail(f"gunicorn did not start: {log.read_text() if log.exists() else ''}")


def _get(url: str) -> tuple:
    with urllib.request.urlopen(url, timeout=10) as response:
        pid, status, backend = response.read().decode().split(" ")
    return int(pid), status, backend
