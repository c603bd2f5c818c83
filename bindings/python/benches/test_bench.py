"""What a request costs from Python: the mesh's client against
``requests`` and ``httpx`` on the same loopback backend, and the floor of
a call into the native module. Run by ``scripts/bench-bindings.sh``
(``benches/src/bin/bindings.rs --python``), which starts the backend on
its own core, pins this process to another and reads the JSON report;
it sets:

- ``MESH_BENCH_BACKEND``: the backend, ``127.0.0.1:port``;
- ``MESH_BENCH_CONFIG``: a mesh config routing ``order-service`` to it.

Latency: one request at a time (pytest-benchmark's median per call).
Throughput: ``BATCH`` requests from ``THREADS`` threads, or with
``IN_FLIGHT`` in flight on one event loop, ``ROUNDS`` times;
``extra_info["requests"]`` tells the reader how many requests one measured
call made. ``MESH_BENCH_BATCH`` and ``MESH_BENCH_ROUNDS`` shrink them for
the smoke run.
"""

from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
import requests

from proxyless_mesh import Client, _native
from proxyless_mesh.httpx_transport import AsyncMeshTransport
from proxyless_mesh.requests_adapter import MeshAdapter

BACKEND = os.environ.get("MESH_BENCH_BACKEND", "")
CONFIG = os.environ.get("MESH_BENCH_CONFIG", "")
MESH_URL = "http://order-service/"
DIRECT_URL = f"http://{BACKEND}/"
THREADS = 8
IN_FLIGHT = 64
BATCH = int(os.environ.get("MESH_BENCH_BATCH", "2000"))
ROUNDS = int(os.environ.get("MESH_BENCH_ROUNDS", "5"))


@pytest.fixture(scope="module", autouse=True)
def _backend() -> None:
    if not (BACKEND and CONFIG):
        pytest.fail(
            "run by scripts/bench-bindings.sh, which starts the backend and sets MESH_BENCH_*"
        )


@pytest.fixture(scope="module")
def mesh():
    with Client(config_file=CONFIG) as client:
        client.request("GET", MESH_URL)  # connects
        yield client


# -- the floor -------------------------------------------------------------


def test_noop_call(benchmark) -> None:
    benchmark(_native.noop)


# -- latency: one request at a time -----------------------------------------


def test_latency_mesh(benchmark, mesh: Client) -> None:
    response = benchmark(mesh.request, "GET", MESH_URL)
    assert response.status == 200


def test_latency_requests(benchmark) -> None:
    with requests.Session() as session:
        assert benchmark(session.get, DIRECT_URL).status_code == 200


def test_latency_requests_over_mesh(benchmark, mesh: Client) -> None:
    with requests.Session() as session:
        session.mount("http://", MeshAdapter(mesh))
        assert benchmark(session.get, MESH_URL).status_code == 200


def test_latency_httpx(benchmark) -> None:
    with httpx.Client() as client:
        assert benchmark(client.get, DIRECT_URL).status_code == 200


# -- throughput: many requests at once --------------------------------------


def _threads(benchmark, send) -> None:
    """BATCH requests from THREADS threads, `send()` making one."""
    benchmark.extra_info["requests"] = BATCH
    with ThreadPoolExecutor(THREADS) as pool:

        def batch() -> None:
            for status in pool.map(lambda _: send(), range(BATCH)):
                assert status == 200

        benchmark.pedantic(batch, rounds=ROUNDS, warmup_rounds=1)


def test_throughput_mesh_threads(benchmark, mesh: Client) -> None:
    _threads(benchmark, lambda: mesh.request("GET", MESH_URL).status)


def test_throughput_requests_threads(benchmark) -> None:
    local = threading.local()  # a Session is not thread-safe: one each

    def send() -> int:
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        return session.get(DIRECT_URL).status_code

    _threads(benchmark, send)


def test_throughput_httpx_threads(benchmark) -> None:
    limits = httpx.Limits(max_connections=THREADS, max_keepalive_connections=THREADS)
    with httpx.Client(limits=limits) as client:
        _threads(benchmark, lambda: client.get(DIRECT_URL).status_code)


def _asyncio(benchmark, make_send, in_flight: int = IN_FLIGHT) -> None:
    """BATCH requests with `in_flight` in flight on one loop."""
    benchmark.extra_info["requests"] = BATCH
    loop = asyncio.new_event_loop()
    send, close = loop.run_until_complete(make_send())

    async def batch() -> None:
        slots = asyncio.Semaphore(in_flight)

        async def one() -> None:
            async with slots:
                assert await send() == 200

        await asyncio.gather(*(one() for _ in range(BATCH)))

    try:
        benchmark.pedantic(lambda: loop.run_until_complete(batch()), rounds=ROUNDS, warmup_rounds=1)
    finally:
        loop.run_until_complete(close())
        loop.close()


def test_throughput_mesh_asyncio(benchmark, mesh: Client) -> None:
    async def make():
        async def send() -> int:
            return (await mesh.arequest("GET", MESH_URL)).status

        async def close() -> None:
            pass

        return send, close

    _asyncio(benchmark, make)


def test_throughput_httpx_over_mesh_asyncio(benchmark, mesh: Client) -> None:
    async def make():
        client = httpx.AsyncClient(transport=AsyncMeshTransport(mesh))

        async def send() -> int:
            return (await client.get(MESH_URL)).status_code

        return send, client.aclose

    _asyncio(benchmark, make)


def _httpx_async(in_flight: int):
    async def make():
        limits = httpx.Limits(max_connections=in_flight, max_keepalive_connections=in_flight)
        client = httpx.AsyncClient(limits=limits)

        async def send() -> int:
            return (await client.get(DIRECT_URL)).status_code

        return send, client.aclose

    return make


def test_throughput_httpx_asyncio(benchmark) -> None:
    _asyncio(benchmark, _httpx_async(IN_FLIGHT))


def test_throughput_httpx_asyncio_8_in_flight(benchmark) -> None:
    """httpx's pool slows as its in-flight count grows: its better figure."""
    _asyncio(benchmark, _httpx_async(8), in_flight=8)
