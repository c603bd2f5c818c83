"""The wheel installs into a fresh virtual environment (offline: it has no
dependencies) and works there: it imports, sends a request to a real
backend, and ships its type information and adapters."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import Scenario

HERE = Path(__file__).resolve().parent


def find_wheel() -> Path:
    """``PROXYLESS_MESH_WHEEL``, set by ``scripts/python.sh``, which built it."""
    wheel = os.environ.get("PROXYLESS_MESH_WHEEL")
    if not wheel:
        pytest.fail("set PROXYLESS_MESH_WHEEL to the wheel to test (scripts/python.sh does)")
    return Path(wheel)


def interpreters() -> list:
    """This interpreter, and the other CPythons ``scripts/python.sh`` found
    (``PROXYLESS_MESH_EXTRA_PYTHONS``: the oldest and newest the abi3
    wheel should serve)."""
    extra = os.environ.get("PROXYLESS_MESH_EXTRA_PYTHONS", "")
    return [sys.executable] + [p for p in extra.split(os.pathsep) if p]


@pytest.mark.parametrize("interpreter", interpreters())
def test_the_wheel_installs_into_a_fresh_venv_and_works(
    tmp_path: Path, scenario: Scenario, interpreter: str
) -> None:
    wheel = find_wheel()
    assert wheel.name.startswith("proxyless_mesh-") and "abi3" in wheel.name, wheel.name
    environment = tmp_path / "venv"
    subprocess.run([interpreter, "-m", "venv", str(environment)], check=True, timeout=120)
    python = environment / "bin" / "python"
    subprocess.run(
        [python, "-m", "pip", "install", "--quiet", "--no-index", "--no-deps", str(wheel)],
        check=True,
        timeout=300,
    )
    config = tmp_path / "mesh.yaml"
    config.write_text(scenario.yaml)
    script = f"""
import asyncio
import proxyless_mesh
from proxyless_mesh import Client
assert proxyless_mesh.__file__.startswith({str(environment)!r}), proxyless_mesh.__file__
with Client(config_file={str(config)!r}) as mesh:
    response = mesh.request("GET", "http://order-service/orders")
    assert response.status == 200, response

    async def main():
        return [r.status for r in await asyncio.gather(*(
            mesh.arequest("GET", "http://order-service/orders") for _ in range(10)))]

    assert asyncio.run(main()) == [200] * 10
print("ok", proxyless_mesh.__version__)
"""
    done = subprocess.run(
        [python, "-c", script], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    version = wheel.name.split("-")[1]
    assert done.stdout.split() == ["ok", version], done.stdout
    files = subprocess.run(
        [python, "-m", "pip", "show", "--files", "proxyless-mesh"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for shipped in (
        "py.typed",
        "_native.pyi",
        "_native.abi3.so",
        "requests_adapter.py",
        "httpx_transport.py",
    ):
        assert shipped in files, f"{shipped} is not in the wheel:\n{files}"
