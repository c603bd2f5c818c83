"""The ``requests`` adapter and the ``httpx`` transports, driven by real
``requests`` and ``httpx`` code."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest
import requests

from proxyless_mesh import Client, NoRouteError
from proxyless_mesh.httpx_transport import AsyncMeshTransport, MeshTransport
from proxyless_mesh.requests_adapter import MeshAdapter

URL = "http://order-service/orders"


@pytest.fixture
def session(client: Client):
    with requests.Session() as s:
        s.mount("http://", MeshAdapter(client))
        yield s


def test_requests_session_splits_and_pins_the_canary(session: requests.Session) -> None:
    seen = Counter(session.get(URL).text for _ in range(500))
    assert 0.12 <= seen["v2"] / 500 <= 0.28, seen
    assert session.get(URL, headers={"x-canary": "always"}).text == "v2"


def test_requests_sends_json_params_and_headers(session: requests.Session) -> None:
    response = session.post(
        "http://order-service/echo",
        params={"q": "1"},
        json={"order": 7},
        headers={"x-trace": "abc"},
        timeout=5,
    )
    response.raise_for_status()
    echo = response.json()
    assert echo["method"] == "POST"
    assert echo["target"] == "/echo?q=1"
    assert echo["body"] == '{"order": 7}'
    assert echo["headers"]["x-trace"] == "abc"
    assert echo["headers"]["content-type"] == "application/json"
    assert response.headers["Content-Type"] == "application/json"
    assert response.reason == "OK"
    assert response.url == "http://order-service/echo?q=1"


def test_requests_decodes_gzip_and_keeps_cookies(session: requests.Session) -> None:
    assert session.get("http://order-service/gzip").text.startswith("compressed ")
    session.get("http://order-service/cookie")
    assert session.cookies.get("session") == "abc"
    assert session.cookies.get("theme") == "dark"
    echo = session.get("http://order-service/echo").json()
    assert "session=abc" in echo["headers"]["cookie"]


def test_requests_refuses_a_body_it_cannot_decode(session: requests.Session) -> None:
    with pytest.raises(requests.exceptions.ContentDecodingError):
        session.get("http://order-service/bad-gzip")


def test_requests_errors_are_requests_exceptions(session: requests.Session) -> None:
    with pytest.raises(requests.exceptions.Timeout):
        session.get("http://order-service/hang", timeout=0.2)
    with pytest.raises(requests.exceptions.ConnectionError) as raised:
        session.get("http://unknown-service/")
    assert isinstance(raised.value.__cause__, NoRouteError)
    with pytest.raises(requests.exceptions.HTTPError):
        session.get("http://order-service/status/404").raise_for_status()


def test_httpx_client_over_the_mesh(client: Client) -> None:
    with httpx.Client(transport=MeshTransport(client)) as http:
        seen = Counter(http.get(URL).text for _ in range(500))
        assert 0.12 <= seen["v2"] / 500 <= 0.28, seen
        echo = http.post(
            "http://order-service/echo", json={"a": 1}, headers={"x-trace": "t"}
        ).json()
        assert echo["body"] == '{"a":1}' or echo["body"] == '{"a": 1}'
        assert echo["headers"]["x-trace"] == "t"
        assert http.get("http://order-service/gzip").text.startswith("compressed ")
        assert http.get("http://order-service/status/503").status_code == 503
        assert http.get("http://order-service/utf8-header").headers["x-name"] == "café"


def test_httpx_errors_are_httpx_exceptions(client: Client) -> None:
    with httpx.Client(transport=MeshTransport(client)) as http:
        with pytest.raises(httpx.TimeoutException):
            http.get("http://order-service/hang", timeout=0.2)
        with pytest.raises(httpx.ConnectError) as raised:
            http.get("http://unknown-service/")
        assert isinstance(raised.value.__cause__, NoRouteError)
        with pytest.raises(httpx.UnsupportedProtocol):
            http.get("https://order-service/")


def test_httpx_async_client_over_the_mesh(client: Client) -> None:
    async def main() -> Counter:
        async with httpx.AsyncClient(transport=AsyncMeshTransport(client)) as http:
            responses = await asyncio.gather(*(http.get(URL) for _ in range(200)))
            assert (await http.get(URL, headers={"x-canary": "always"})).text == "v2"
            with pytest.raises(httpx.TimeoutException):
                await http.get("http://order-service/hang", timeout=0.2)
            return Counter(r.text for r in responses)

    seen = asyncio.run(main())
    assert sum(seen.values()) == 200 and seen["v2"] > 0
