"""The cross-language parity scenario, from Python: the Rust parity binary
starts the shared backends, runs the scenario through Rust, then through
this binding from threads and from asyncio, and fails when a run strays
from the scenario (80/20 split, canary on v2, 30 % of v1-a's answers
failing and masked by retries) or from the Rust run."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

from conftest import REPO

RUNNER = Path(__file__).with_name("parity_runner.py")


def parity_command() -> list:
    """``MESH_PARITY_BIN`` when set (CI builds it once), else cargo."""
    binary = os.environ.get("MESH_PARITY_BIN")
    if binary:
        return [binary]
    return ["cargo", "run", "--locked", "--quiet", "-p", "mesh-tests", "--bin", "parity", "--"]


def test_python_matches_rust_on_the_parity_scenario() -> None:
    command = parity_command() + ["--python", str(RUNNER)]
    environment = dict(os.environ, PYTHON=sys.executable)
    done = subprocess.run(
        command, cwd=REPO, env=environment, capture_output=True, text=True, timeout=600
    )
    print(done.stdout)
    assert done.returncode == 0, f"{shlex.join(command)}\n{done.stdout}\n{done.stderr}"
    rows = {line.split()[0]: line.split() for line in done.stdout.splitlines()[1:] if line.strip()}
    assert set(rows) == {"rust", "python", "py-async"}, done.stdout
    for language in ("python", "py-async"):
        assert rows[language][2] == "2000", f"{language}: every request answered 200"
        assert rows[language][4] == "200/200", f"{language}: every canary on v2"
