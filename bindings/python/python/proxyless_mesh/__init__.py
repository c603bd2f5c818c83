"""An embedded, proxyless service mesh for Python.

``Client`` sends HTTP requests through the mesh engine that runs inside
this process: routing from Istio or Envoy configuration (static, or live
over xDS), weighted subsets, load balancing, retries with budgets, circuit
breakers and outlier detection, the same engine and decisions as the Rust,
C and Go bindings. Adapters plug it into ``requests``
(:mod:`proxyless_mesh.requests_adapter`) and ``httpx``
(:mod:`proxyless_mesh.httpx_transport`)::

    from proxyless_mesh import Client

    with Client(config=open("mesh.yaml").read()) as mesh:
        response = mesh.request("GET", "http://order-service/orders/1")
        print(response.status, response.text())
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from . import errors
from ._client import Client
from ._native import Decision, Response
from .errors import *  # noqa: F403 (the exceptions are the package's API)

try:
    __version__ = version("proxyless-mesh")
except PackageNotFoundError:  # pragma: no cover (an uninstalled checkout)
    __version__ = "0.0.0"

__all__ = ["Client", "Decision", "Response", "errors", *errors.__all__]
