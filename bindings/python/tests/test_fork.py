"""Pre-fork servers (gunicorn, multiprocessing's ``fork``): a child that
uses a client built before the fork gets a working engine of its own; the
parent's engine keeps serving; a raw engine used across a fork raises
``ClosedError``. Nothing hangs: every child is waited for with a bound."""

from __future__ import annotations

import multiprocessing
import os
import time

import pytest

from proxyless_mesh import Client, ClosedError, _native

URL = "http://order-service/orders"


def _wait(pid: int, seconds: float = 30.0) -> int:
    """The child's exit status; kills it (and fails) if it hangs."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    os.kill(pid, 9)
    os.waitpid(pid, 0)
    pytest.fail("the forked child hung")


def _in_child(body) -> int:
    pid = os.fork()
    if pid == 0:  # the child: report through the exit status only
        code = 1
        try:
            code = body()
        finally:
            os._exit(code)
    return _wait(pid)


def test_a_forked_child_gets_a_working_engine(client: Client) -> None:
    assert client.request("GET", URL).status == 200  # the parent's engine is live

    def child() -> int:
        ok = all(client.request("GET", URL).status == 200 for _ in range(20))
        return 0 if ok else 3

    assert _in_child(child) == 0
    assert client.request("GET", URL).status == 200  # and still is


def test_asyncio_in_a_forked_child(client: Client) -> None:
    import asyncio

    def child() -> int:
        async def main() -> list:
            return await asyncio.gather(*(client.arequest("GET", URL) for _ in range(50)))

        return 0 if all(r.status == 200 for r in asyncio.run(main())) else 3

    assert _in_child(child) == 0


def test_a_raw_engine_across_a_fork_raises_closed(scenario) -> None:
    engine = _native.Engine(config=scenario.yaml)
    assert engine.request("GET", URL).status == 200

    def child() -> int:
        try:
            engine.request("GET", URL)
        except ClosedError as e:
            return 0 if "fork" in str(e) else 4
        return 5

    assert _in_child(child) == 0
    engine.close()


def test_a_closed_client_stays_closed_in_the_child(scenario) -> None:
    mesh = Client(config=scenario.yaml)
    mesh.close()

    def child() -> int:
        try:
            mesh.request("GET", URL)
        except ClosedError:
            return 0
        return 6

    assert _in_child(child) == 0


def test_a_multiprocessing_fork_pool(client: Client) -> None:
    context = multiprocessing.get_context("fork")
    with context.Pool(2) as pool:
        statuses = pool.map_async(_fetch_with_global, range(8)).get(timeout=60)
    assert statuses == [200] * 8


_GLOBAL: dict = {}


def _fetch_with_global(_: int) -> int:
    return _GLOBAL["client"].request("GET", URL).status


@pytest.fixture(autouse=True)
def _share_client(request) -> None:
    if "client" in request.fixturenames:
        _GLOBAL["client"] = request.getfixturevalue("client")
    yield
    _GLOBAL.clear()
