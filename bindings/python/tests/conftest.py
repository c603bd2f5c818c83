"""Fixtures: the order-service scenario (three real backends on loopback,
the Istio fixture with their ports) and a client over it."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator, List, Optional, Tuple

import pytest

from backend import Backend
from proxyless_mesh import Client

REPO = Path(__file__).resolve().parents[3]
FIXTURE = REPO / "examples" / "fixtures" / "order-service.yaml"
FIXTURE_PORTS = (18081, 18082, 18083)


def order_service_yaml(ports: List[int]) -> str:
    """The fixture with its endpoint ports replaced (v1, v1, v2)."""
    yaml = FIXTURE.read_text()
    for old, new in zip(FIXTURE_PORTS, ports):
        yaml = yaml.replace(f"http: {old}", f"http: {new}")
    return yaml


class Scenario:
    """Backends v1-a, v1-b, v2 and the scenario's YAML."""

    def __init__(self, fail: Optional[Tuple[int, int, int]] = None) -> None:
        self.backends = [
            Backend("v1-a", fail=fail).start(),
            Backend("v1-b").start(),
            Backend("v2").start(),
        ]
        self.yaml = order_service_yaml([b.port for b in self.backends])

    def received(self) -> dict:
        return {b.name: b.received for b in self.backends}

    def stop(self) -> None:
        for backend in self.backends:
            backend.stop()


@pytest.fixture
def scenario() -> Iterator[Scenario]:
    running = Scenario()
    yield running
    running.stop()


@pytest.fixture
def client(scenario: Scenario) -> Iterator[Client]:
    with Client(config=scenario.yaml) as mesh:
        yield mesh
