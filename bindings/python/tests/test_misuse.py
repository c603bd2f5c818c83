"""Misuse gets the right exception and never crashes the interpreter:
wrong types, bad URLs, CR/LF in headers, framing headers, bodies over the
limit, a closed client, bad options and configuration, Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import threading
import time

import pytest

from conftest import Scenario
from proxyless_mesh import (
    BodyTooLargeError,
    Client,
    ClosedError,
    ConfigInvalidError,
    InvalidArgumentError,
    InvalidRequestError,
    MeshError,
    NoRouteError,
)

URL = "http://order-service/orders"


@pytest.mark.parametrize(
    "call",
    [
        lambda c: c.request(123, URL),
        lambda c: c.request("GET", None),
        lambda c: c.request("GET", URL, headers={"x-a": 1}),
        lambda c: c.request("GET", URL, headers=[("x-a",)]),
        lambda c: c.request("GET", URL, headers=42),
        lambda c: c.request("GET", URL, body=42),
        lambda c: c.request("GET", URL, timeout="soon"),
        lambda c: c.resolve("GET", URL, headers={1: "a"}),
    ],
)
def test_wrong_types_raise_type_error(client: Client, call) -> None:
    with pytest.raises(TypeError):
        call(client)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "not a url",
        "/relative",
        "https://order-service/",
        "http://user:secret@order-service/",
        "ftp://order-service/",
    ],
)
def test_bad_urls_raise_invalid_request(client: Client, url: str) -> None:
    with pytest.raises(InvalidRequestError) as raised:
        client.request("GET", url)
    assert isinstance(raised.value, ValueError)
    assert raised.value.kind == "invalid_request"


@pytest.mark.parametrize(
    "headers",
    [
        {"x-a": "one\r\nx-injected: yes"},
        {"x-a": "line\nbreak"},
        {"x-a\r\n": "v"},
        {"bad name": "v"},
        {"content-length": "5"},
        {"transfer-encoding": "chunked"},
        [(b"x-a", b"nul\x00byte")],
    ],
)
def test_headers_with_cr_lf_or_framing_are_refused(client: Client, headers) -> None:
    with pytest.raises(InvalidRequestError):
        client.request("GET", URL, headers=headers)


def test_bad_method_and_timeout(client: Client) -> None:
    with pytest.raises(InvalidRequestError):
        client.request("GE T", URL)
    with pytest.raises(ValueError):
        client.request("GET", URL, timeout=-1)
    with pytest.raises(ValueError):
        client.request("GET", URL, timeout=float("nan"))


def test_bodies_over_the_limit_both_ways(scenario: Scenario) -> None:
    with Client(config=scenario.yaml, max_body_bytes=1024) as mesh:
        with pytest.raises(BodyTooLargeError):
            mesh.request("POST", "http://order-service/echo", body=b"x" * 2048)
        with pytest.raises(BodyTooLargeError):
            mesh.request("GET", "http://order-service/bytes/4096")
        assert mesh.request("GET", "http://order-service/bytes/1000").body == b"x" * 1000
    with Client(config=scenario.yaml) as mesh:
        huge = b"y" * (20 << 20)  # over the default 16 MiB
        with pytest.raises(BodyTooLargeError):
            mesh.request("POST", "http://order-service/echo", body=huge)


def test_a_closed_client_raises_closed(scenario: Scenario) -> None:
    mesh = Client(config=scenario.yaml)
    decision = mesh.resolve("GET", URL)
    mesh.close()
    mesh.close()  # twice is fine
    assert mesh.closed
    for call in (
        lambda: mesh.request("GET", URL),
        lambda: mesh.resolve("GET", URL),
        lambda: mesh.report(decision, status=200),
        mesh.metrics,
        mesh.config_dump,
    ):
        with pytest.raises(ClosedError):
            call()


def test_closing_ends_a_call_in_flight(scenario: Scenario) -> None:
    mesh = Client(config=scenario.yaml)
    errors: list = []

    def call() -> None:
        try:
            mesh.request("GET", "http://order-service/hang")
        except MeshError as e:
            errors.append(e)

    before = sum(scenario.received().values())
    thread = threading.Thread(target=call)
    thread.start()
    deadline = time.monotonic() + 10
    while sum(scenario.received().values()) == before and time.monotonic() < deadline:
        time.sleep(0.01)  # until the request has reached a backend
    mesh.close()
    thread.join(timeout=10)
    assert not thread.is_alive()
    assert len(errors) == 1 and isinstance(errors[0], ClosedError)


def test_no_route_is_its_own_error(client: Client) -> None:
    with pytest.raises(NoRouteError) as raised:
        client.request("GET", "http://unknown-service/")
    assert "unknown-service" in str(raised.value)


def test_bad_options_and_configuration(scenario: Scenario) -> None:
    with pytest.raises(InvalidArgumentError):
        Client()
    with pytest.raises(InvalidArgumentError):
        Client(config=scenario.yaml, config_file="/nonexistent.yaml")
    with pytest.raises(InvalidArgumentError):
        Client(config=scenario.yaml, format="toml")
    with pytest.raises(InvalidArgumentError):
        Client(config=scenario.yaml, policy="{}")
    with pytest.raises(InvalidArgumentError):
        Client(config=scenario.yaml, max_body_bytes=0)
    with pytest.raises(ConfigInvalidError) as raised:
        Client(config_file="/nonexistent/mesh.yaml")
    assert "/nonexistent/mesh.yaml" in str(raised.value)
    broken = scenario.yaml.replace("subset: v2\n      weight: 20", "subset: v3\n      weight: 20")
    with pytest.raises(ConfigInvalidError) as raised:
        Client(config=broken)
    assert "v3" in str(raised.value) and isinstance(raised.value, ValueError)
    with pytest.raises(OverflowError):
        Client(config=scenario.yaml, worker_threads=-1)


def test_decisions_are_reported_once_and_well(client: Client) -> None:
    decision = client.resolve("GET", URL)
    with pytest.raises(InvalidArgumentError):
        client.report(decision)
    with pytest.raises(InvalidArgumentError):
        client.report(decision, status=200, failure="reset")
    with pytest.raises(InvalidArgumentError):
        client.report(decision, failure="bogus")
    with pytest.raises(InvalidArgumentError):
        client.report(decision, status=42)
    assert client.report(decision, status=200) is None
    with pytest.raises(InvalidArgumentError):
        client.report(decision, status=200)


def test_ctrl_c_interrupts_a_blocking_call(client: Client) -> None:
    assert threading.current_thread() is threading.main_thread()
    timer = threading.Timer(0.2, os.kill, (os.getpid(), signal.SIGINT))
    started = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        client.request("GET", "http://order-service/hang")
    timer.join()
    assert time.monotonic() - started < 5
    # The engine ended the call as cancelled: the interrupt reached it
    # (not a KeyboardInterrupt raised after the route's timeout).
    assert re.search(r'mode="execute",[^}]*result="cancelled"', client.metrics()), client.metrics()
    # The client still works afterwards.
    assert client.request("GET", URL).status == 200
