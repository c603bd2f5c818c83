"""Telemetry from Python: Istio's metrics under the caller's workload,
served at /metrics; the caller's trace context into the engine's spans
and back out; the access log."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

from conftest import Scenario
from proxyless_mesh import Client

CALLER = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


def test_metrics_are_served_for_prometheus_under_the_callers_workload(scenario: Scenario) -> None:
    with Client(
        config=scenario.yaml,
        workload="checkout",
        namespace="shop",
        workload_labels={"app": "checkout", "version": "v3"},
        metrics_address="127.0.0.1:0",
    ) as mesh:
        for i in range(20):
            assert mesh.request("GET", f"http://order-service/{i}").status == 200
        address = mesh.metrics_address
        assert address is not None and address.startswith("127.0.0.1:")
        with urllib.request.urlopen(f"http://{address}/metrics", timeout=5) as scrape:
            assert scrape.headers["content-type"].startswith("text/plain; version=0.0.4")
            text = scrape.read().decode()
    total = 0
    for line in text.splitlines():
        if line.startswith("istio_requests_total{"):
            assert 'source_workload="checkout"' in line
            assert 'source_version="v3"' in line
            assert 'destination_service="order-service"' in line
            total += int(line.rsplit(" ", 1)[1])
    assert total == 20


def test_the_callers_traceparent_flows_into_the_engines_span_and_back(scenario: Scenario) -> None:
    # The collector is down: spans are dropped, requests never wait.
    with Client(
        config=scenario.yaml, otlp_endpoint="http://127.0.0.1:9", trace_sample_ratio=0.0
    ) as mesh:
        untraced = mesh.request("GET", "http://order-service/")
        assert untraced.traceparent is None
        response = mesh.request("GET", "http://order-service/echo", headers={"traceparent": CALLER})
        assert response.status == 200
        assert response.traceparent is not None
        version, trace, span, flags = response.traceparent.split("-")
        assert (version, trace, flags) == ("00", TRACE, "01")
        assert span != CALLER.split("-")[2]
        # The endpoint saw the same trace, under the attempt's own span.
        sent = json.loads(response.body)["headers"]["traceparent"]
        _, sent_trace, sent_span, _ = sent.split("-")
        assert sent_trace == TRACE
        assert sent_span not in (span, CALLER.split("-")[2])
        # Two spans ended (the request and its attempt), none exported.
        assert 'mesh_trace_spans_total{result="ended"} 2' in mesh.metrics()


def test_the_access_log_gets_a_json_line_per_request(scenario: Scenario, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    with Client(config=scenario.yaml, access_log=log) as mesh:
        mesh.request("GET", "http://order-service/orders/1", headers={"x-request-id": "py-1"})
    deadline = time.monotonic() + 5
    lines: list = []
    while time.monotonic() < deadline and not lines:
        lines = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        time.sleep(0.05)
    assert len(lines) == 1
    assert lines[0]["request_id"] == "py-1"
    assert lines[0]["path"] == "/orders/1"
    assert lines[0]["response_code"] == 200
