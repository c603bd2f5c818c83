"""asyncio: ``arequest`` never blocks the event loop, 1 000 requests in
flight at once, cancellation and timeouts end requests, closing answers
the waiting tasks."""

from __future__ import annotations

import asyncio
import re
from collections import Counter

import pytest

from proxyless_mesh import Client, ClosedError, InvalidRequestError, MeshTimeoutError

URL = "http://order-service/orders"


def test_a_thousand_concurrent_requests(client: Client) -> None:
    async def main() -> Counter:
        responses = await asyncio.gather(*(client.arequest("GET", URL) for _ in range(1000)))
        assert all(r.status == 200 for r in responses)
        return Counter(r.text() for r in responses)

    seen = asyncio.run(main())
    assert sum(seen.values()) == 1000
    assert 0.14 <= seen["v2"] / 1000 <= 0.26, seen


def test_the_event_loop_keeps_running_while_requests_wait(client: Client) -> None:
    async def main() -> int:
        ticks = 0
        requests = asyncio.gather(
            *(
                client.arequest("GET", "http://order-service/sleep/100", timeout=5)
                for _ in range(20)
            )
        )
        while not requests.done():
            await asyncio.sleep(0.01)
            ticks += 1
        assert all(r.status == 200 for r in await requests)
        return ticks

    # 100 ms of waiting, ticks every 10 ms: a loop blocked by the requests
    # would tick once or twice; the bound leaves room for a loaded machine.
    assert asyncio.run(main()) >= 4


def test_cancelling_the_task_cancels_the_request(client: Client) -> None:
    async def main() -> None:
        task = asyncio.ensure_future(client.arequest("GET", "http://order-service/hang"))
        await asyncio.sleep(0.1)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        # The engine saw the cancellation and ended the request.
        for _ in range(100):
            if 'result="cancelled"' in client.metrics():
                return
            await asyncio.sleep(0.02)
        raise AssertionError(client.metrics())

    asyncio.run(main())


def test_a_timeout_raises_the_mesh_timeout(client: Client) -> None:
    async def main() -> None:
        with pytest.raises(MeshTimeoutError) as raised:
            await client.arequest("GET", "http://order-service/hang", timeout=0.2)
        assert isinstance(raised.value, TimeoutError)

    asyncio.run(main())


def test_asyncio_wait_for_cancels_through_the_mesh(client: Client) -> None:
    async def main() -> None:
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(client.arequest("GET", "http://order-service/hang"), 0.1)

    asyncio.run(main())


def test_closing_answers_the_waiting_tasks(client: Client) -> None:
    async def main() -> None:
        tasks = [
            asyncio.ensure_future(client.arequest("GET", "http://order-service/hang"))
            for _ in range(5)
        ]
        await asyncio.sleep(0.1)
        client.close()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert all(isinstance(r, ClosedError) for r in results), results
        with pytest.raises(ClosedError):
            await client.arequest("GET", URL)

    asyncio.run(main())


def test_several_event_loops_share_one_client(client: Client) -> None:
    for _ in range(3):
        statuses = asyncio.run(_statuses(client, 20))
        assert statuses == [200] * 20
    counts = re.findall(r'mode="submit",cluster="[^"]*",result="200"\} (\d+)', client.metrics())
    assert sum(int(n) for n in counts) == 60


async def _statuses(client: Client, n: int) -> list:
    return [
        r.status for r in await asyncio.gather(*(client.arequest("GET", URL) for _ in range(n)))
    ]


def test_async_with_closes_and_stops_watching(scenario) -> None:
    async def main() -> None:
        async with Client(config=scenario.yaml) as mesh:
            assert (await mesh.arequest("GET", URL)).status == 200
            (completions,) = mesh._loops.values()
            fd = completions.native.fileno()
        assert mesh.closed
        await asyncio.sleep(0)  # the loop runs the detach it was handed
        assert not asyncio.get_running_loop().remove_reader(fd), "the reader was removed"

    asyncio.run(main())


def test_arequest_misuse_raises_like_request(client: Client) -> None:
    async def main() -> None:
        with pytest.raises(InvalidRequestError):
            await client.arequest("GET", "https://order-service/")
        with pytest.raises(TypeError):
            await client.arequest("GET", URL, body=42)
        with pytest.raises(InvalidRequestError):
            await client.arequest("GET", URL, headers={"x-a": "1\r\n2"})

    asyncio.run(main())
