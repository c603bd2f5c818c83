"""The synchronous client against real backends: routing, the 80/20
split, the canary header, retries, bodies and headers both ways, decide
mode, dump and metrics."""

from __future__ import annotations

import json
import threading
from collections import Counter

from conftest import REPO, Scenario
from proxyless_mesh import Client, Decision, Response

URL = "http://order-service/orders"


def test_a_request_is_routed_and_answered(client: Client) -> None:
    response = client.request("GET", URL)
    assert isinstance(response, Response)
    assert response.status == 200
    assert response.body in (b"v1-a", b"v1-b", b"v2")
    assert response.header("X-Backend") == response.text()
    assert response.cluster is not None and "order-service" in response.cluster
    assert response.endpoint is not None and response.endpoint.startswith("127.0.0.1:")


def test_the_split_is_80_20_and_the_canary_header_pins_v2(client: Client) -> None:
    seen = Counter(client.request("GET", URL).text() for _ in range(1000))
    v2_share = seen["v2"] / 1000
    assert 0.14 <= v2_share <= 0.26, seen
    assert seen["v1-a"] > 0 and seen["v1-b"] > 0
    canary = Counter(
        client.request("GET", URL, headers={"x-canary": "always"}).text() for _ in range(100)
    )
    assert canary == {"v2": 100}


def test_threads_share_a_client_and_run_in_parallel(client: Client) -> None:
    results: list = []

    def worker() -> None:
        for _ in range(50):
            results.append(client.request("GET", URL).status)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert results == [200] * 400


def test_failures_are_retried_on_another_endpoint() -> None:
    scenario = Scenario(fail=(1, 3, 503))
    try:
        with Client(config=scenario.yaml) as mesh:
            statuses = Counter(mesh.request("GET", URL).status for _ in range(300))
        assert statuses == {200: 300}, statuses
        # v1-a failed a third of what it got: the backends saw the retries.
        received = scenario.received()
        assert received["v1-a"] > 0
        assert sum(received.values()) > 300, received
    finally:
        scenario.stop()


def test_headers_and_body_reach_the_backend_and_come_back(client: Client) -> None:
    response = client.request(
        "POST",
        "http://order-service/echo?x=1",
        headers=[("x-trace", "abc"), (b"x-bytes", b"\xe9t\xe9"), ("x-trace", "def")],
        body=b"hello mesh",
        timeout=5.0,
    )
    assert response.status == 200
    echo = response.json()
    assert echo["method"] == "POST"
    assert echo["target"] == "/echo?x=1"
    assert echo["body"] == "hello mesh"
    assert echo["headers"]["x-bytes"] == "\xe9t\xe9"
    assert echo["headers"]["content-length"] == "10"
    assert dict(response.headers)["content-type"] == "application/json"
    for body in ("text body", bytearray(b"array"), memoryview(b"view")):
        sent = client.request("PUT", "http://order-service/echo", body=body).json()["body"]
        assert sent == bytes(body if not isinstance(body, str) else body.encode()).decode()


def test_header_bytes_come_back_as_they_were_sent(client: Client) -> None:
    response = client.request("GET", "http://order-service/utf8-header")
    value = response.header("x-name")
    assert value == "café".encode().decode("latin-1")  # Latin-1, as http.client
    assert value.encode("latin-1").decode() == "café"


def test_a_non_2xx_answer_is_a_response_not_an_error(client: Client) -> None:
    response = client.request("GET", "http://order-service/status/404")
    assert response.status == 404


def test_decide_mode_tells_where_to_send_and_learns_from_reports(client: Client) -> None:
    decision = client.resolve("GET", URL)
    assert isinstance(decision, Decision)
    assert decision.endpoint.startswith("127.0.0.1:")
    assert decision.authority == "order-service"
    assert decision.attempt == 1 and decision.max_attempts == 4
    assert decision.timeout is not None and 0 < decision.timeout <= 0.8
    retry = client.report(decision, status=503)
    assert retry is not None and retry.attempt == 2
    assert retry.delay >= 0
    assert client.report(retry, status=200) is None
    failed = client.resolve("GET", URL)
    assert client.report(failed, failure="connect") is not None


def test_config_dump_and_metrics_describe_the_engine(client: Client) -> None:
    client.request("GET", URL)
    dump = client.config_dump()
    assert json.dumps(dump)  # a plain dict
    assert "order-service" in json.dumps(dump["clusters"])
    metrics = client.metrics()
    assert 'mode="execute"' in metrics
    assert "# TYPE" in metrics


def test_config_from_a_file_and_an_envoy_format(scenario: Scenario, tmp_path) -> None:
    path = tmp_path / "mesh.yaml"
    path.write_text(scenario.yaml)
    with Client(config_file=path, format="istio") as mesh:
        assert mesh.request("GET", URL).status == 200


def test_a_policy_applies_to_its_host(scenario: Scenario) -> None:
    shared = REPO.parent / "shared" / "fixtures" / "policy" / "order-service-policy.json"
    policy = json.loads(shared.read_text())
    policy["service_timeout_ms"] = 1234  # the fixture's 800 ms is the YAML's too
    with Client(
        config=scenario.yaml, policy=json.dumps(policy), policy_host="order-service"
    ) as mesh:
        assert mesh.request("GET", URL).status == 200
        routes = mesh.config_dump()["route_tables"][0]["virtual_hosts"][0]["routes"]
        assert [route["timeout_ms"] for route in routes] == [1234, 1234]
