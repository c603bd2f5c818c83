"""A client built from a gRPC bootstrap, live over xDS: the Rust test
control plane (a real ADS server on loopback, ``xds_scenario``) serves the
order-service canary, and the client follows it."""

from __future__ import annotations

import json
import os
import subprocess
from collections import Counter

from conftest import REPO
from proxyless_mesh import Client

URL = "http://order-service/"


def scenario_command() -> list:
    """``MESH_XDS_SCENARIO_BIN`` when set (scripts/python.sh builds it), else cargo."""
    binary = os.environ.get("MESH_XDS_SCENARIO_BIN")
    if binary:
        return [binary]
    return ["cargo", "run", "--locked", "--quiet", "-p", "mesh-tests", "--bin", "xds_scenario"]


def test_a_client_from_a_bootstrap_follows_the_control_plane() -> None:
    server = subprocess.Popen(
        scenario_command(), cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        started = json.loads(server.stdout.readline())
        with Client(
            xds_targets=[started["target"]],
            xds_bootstrap=started["bootstrap"],
            ready_timeout=10.0,
        ) as mesh:
            seen = Counter(mesh.request("GET", URL).text() for _ in range(500))
            assert set(seen) == {"v1", "v2"}, seen
            assert 0.12 <= seen["v2"] / 500 <= 0.28, seen
            pinned = {mesh.request("GET", URL, headers={"x-canary": "always"}).text()}
            assert pinned == {"v2"}
            dump = mesh.config_dump()
            assert dump["xds"], "the xDS client's resources are in the dump"
    finally:
        assert server.stdin is not None
        server.stdin.close()  # the scenario serves until its input closes
        server.wait(timeout=20)
