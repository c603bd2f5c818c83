"""The client: one mesh engine, called from threads, from asyncio, and
from processes forked after it was built.

Blocking calls release the GIL while the engine works, so threads run
their requests in parallel. ``arequest`` hands the request to the engine's
own threads and waits on an asyncio future: the event loop never blocks
(see :mod:`proxyless_mesh._aio`). A process forked after the client was
built (gunicorn's workers, ``multiprocessing`` with ``fork``) cannot use
the parent's engine, whose threads did not follow it: the client builds a
new engine from the same settings the first time the child uses it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import threading
import weakref
from typing import Any, Dict, Iterable, Mapping, Optional, Sequence, Tuple, Union

from . import _aio, _native
from .errors import ClosedError

_Text = Union[str, bytes]
Headers = Union[Mapping[str, _Text], Mapping[bytes, _Text], Iterable[Tuple[_Text, _Text]]]
Body = Union[bytes, bytearray, memoryview, str]

#: The thread Python runs signal handlers on (updated in a forked child,
#: whose main thread is the one that forked).
_MAIN_THREAD = threading.main_thread().ident


class Client:
    """Sends HTTP requests through the mesh.

    Give exactly one configuration source:

    - ``config``: Istio (VirtualService, DestinationRule, ServiceEntry) or
      Envoy v3 YAML/JSON text; ``format`` may force ``"istio"`` or
      ``"envoy"`` instead of ``"auto"``;
    - ``config_file``: a path to such a file;
    - ``xds_targets``: the services (``host:port``) to subscribe to over
      xDS, with ``xds_bootstrap`` (gRPC's bootstrap JSON; by default the
      ``GRPC_XDS_BOOTSTRAP`` environment variable), waiting up to
      ``ready_timeout`` seconds for the first configuration.

    ``policy`` (the policy JSON) with ``policy_host`` applies retries,
    budgets, breakers and outlier detection to one host of a static
    configuration. ``worker_threads`` sizes the engine's runtime (xDS and
    asyncio requests); ``max_body_bytes`` bounds request and response
    bodies.

    Telemetry: ``workload``, ``namespace`` and ``workload_labels`` name
    this service in Istio's metrics (``source_workload``, ...);
    ``metrics_address`` (``"127.0.0.1:9464"``, port 0 for any) serves them
    at ``/metrics`` for Prometheus (see :attr:`metrics_address`; a forked
    child does not serve them again). ``otlp_endpoint`` traces requests
    and exports the spans over OTLP/gRPC: a request carrying a
    ``traceparent`` header follows its caller's sampling decision, others
    are sampled at ``trace_sample_ratio``, and a traced response gives its
    span back as ``response.traceparent``. ``access_log`` appends one JSON
    line per request (a share ``access_log_ratio`` of them) to that file.

    Invalid configuration raises :class:`~proxyless_mesh.ConfigInvalidError`
    naming the resource and the field. A client is safe to share between
    threads and event loops; close it (or use it as a context manager) to
    stop its threads and connections.
    """

    def __init__(
        self,
        config: Optional[str] = None,
        *,
        config_file: Optional[Union[str, os.PathLike]] = None,
        format: str = "auto",
        xds_targets: Optional[Sequence[str]] = None,
        xds_bootstrap: Optional[str] = None,
        ready_timeout: float = 5.0,
        policy: Optional[str] = None,
        policy_host: Optional[str] = None,
        worker_threads: int = 1,
        max_body_bytes: int = _native.DEFAULT_MAX_BODY_BYTES,
        workload: Optional[str] = None,
        namespace: Optional[str] = None,
        workload_labels: Optional[Mapping[str, str]] = None,
        metrics_address: Optional[str] = None,
        otlp_endpoint: Optional[str] = None,
        trace_sample_ratio: float = 0.01,
        trace_service_name: Optional[str] = None,
        access_log: Optional[Union[str, os.PathLike]] = None,
        access_log_ratio: float = 1.0,
    ) -> None:
        self._settings: Dict[str, Any] = dict(
            config=config,
            config_file=os.fspath(config_file) if config_file is not None else None,
            format=format,
            xds_targets=list(xds_targets) if xds_targets is not None else None,
            xds_bootstrap=xds_bootstrap,
            ready_timeout=ready_timeout,
            policy=policy,
            policy_host=policy_host,
            worker_threads=worker_threads,
            max_body_bytes=max_body_bytes,
            workload=workload,
            namespace=namespace,
            workload_labels=dict(workload_labels) if workload_labels is not None else None,
            metrics_address=metrics_address,
            otlp_endpoint=otlp_endpoint,
            trace_sample_ratio=trace_sample_ratio,
            trace_service_name=trace_service_name,
            access_log=os.fspath(access_log) if access_log is not None else None,
            access_log_ratio=access_log_ratio,
        )
        self._lock = threading.Lock()
        self._closed = False
        self._tokens = itertools.count()
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _aio.LoopCompletions] = (
            weakref.WeakKeyDictionary()
        )
        self._engine: Optional[_native.Engine] = _native.Engine(**self._settings)
        _clients.add(self)

    # -- requests -----------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        headers: Optional[Headers] = None,
        body: Optional[Body] = None,
        timeout: Optional[float] = None,
    ) -> _native.Response:
        """Sends a request through the mesh and returns the whole response.

        ``url`` is absolute and ``http://`` (TLS to an endpoint is the
        cluster's setting); ``timeout`` bounds the whole call, every
        attempt included, in seconds. The GIL is released while the engine
        works; on the main thread Ctrl-C interrupts the call. Raises a
        :class:`~proxyless_mesh.MeshError` subclass when no response
        comes: a non-2xx response is a response, not an error.
        """
        engine = self._engine or self._revive()
        return engine.request(
            method, url, headers, body, timeout, threading.get_ident() == _MAIN_THREAD
        )

    async def arequest(
        self,
        method: str,
        url: str,
        *,
        headers: Optional[Headers] = None,
        body: Optional[Body] = None,
        timeout: Optional[float] = None,
    ) -> _native.Response:
        """``request`` for asyncio: the event loop keeps running while the
        engine's threads send the request. Cancelling the awaiting task
        cancels the request."""
        loop = asyncio.get_running_loop()
        # Building an engine (in a forked child) may wait: not on the loop.
        engine = self._engine
        if engine is None:
            engine = await loop.run_in_executor(None, self._revive)
        completions = self._loops.get(loop)
        if completions is None:
            completions = self._loops.setdefault(loop, _aio.LoopCompletions(loop))
        return await completions.send(
            engine, next(self._tokens), method, url, headers, body, timeout
        )

    # -- decide mode ----------------------------------------------------------

    def resolve(
        self, method: str, url: str, *, headers: Optional[Headers] = None
    ) -> _native.Decision:
        """Routes a request and decides its first attempt, for code that
        sends requests itself: connect to ``decision.endpoint`` with
        ``decision.authority`` as ``Host`` and ``decision.headers`` set,
        then :meth:`report` how it went."""
        engine = self._engine or self._revive()
        return engine.resolve(method, url, headers)

    def report(
        self,
        decision: _native.Decision,
        *,
        status: Optional[int] = None,
        headers: Optional[Headers] = None,
        failure: Optional[str] = None,
    ) -> Optional[_native.Decision]:
        """Reports an attempt's outcome: a response ``status`` (and its
        ``headers``: ``retry-after``, ``grpc-status`` are read) or a
        ``failure`` (``"connect"``, ``"reset"``, ``"timeout"``,
        ``"refused_stream"``). Returns the next attempt's decision (sleep
        ``decision.delay`` first), or ``None`` when this was the answer."""
        engine = self._engine or self._revive()
        return engine.report(decision, status, headers, failure)

    # -- introspection --------------------------------------------------------

    def config_dump(self) -> Any:
        """The configuration in force (listeners, routes, clusters with
        endpoints and ejections, xDS resource versions), as a dict."""
        engine = self._engine or self._revive()
        return json.loads(engine.config_dump())

    def metrics(self) -> str:
        """The engine's metrics in the Prometheus text format: Istio's
        standard metrics, the mesh's per-cluster counters, xDS and
        tracing."""
        engine = self._engine or self._revive()
        return engine.metrics()

    @property
    def metrics_address(self) -> Optional[str]:
        """Where ``/metrics`` is served (``host:port``), when it is."""
        engine = self._engine or self._revive()
        return engine.metrics_address

    # -- lifetime -------------------------------------------------------------

    def close(self) -> None:
        """Closes the client: requests in flight raise
        :class:`~proxyless_mesh.ClosedError`, later calls too. Closing
        again does nothing."""
        with self._lock:
            self._closed = True
            engine, self._engine = self._engine, None
            loops, self._loops = list(self._loops.values()), weakref.WeakKeyDictionary()
        if engine is not None:
            engine.close()
        for completions in loops:
            completions.close()

    @property
    def max_body_bytes(self) -> int:
        """The largest request or response body, in bytes."""
        return int(self._settings["max_body_bytes"])

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called."""
        return self._closed

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    async def __aenter__(self) -> "Client":
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        # Closing waits for the engine's threads: not on the loop.
        await asyncio.get_running_loop().run_in_executor(None, self.close)

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<proxyless_mesh.Client {state}>"

    def _revive(self) -> _native.Engine:
        """The engine after a fork (built anew, once), or ClosedError."""
        with self._lock:
            if self._closed:
                raise ClosedError("closed: the client is closed")
            if self._engine is None:
                self._engine = _native.Engine(**self._settings)
            return self._engine

    def _forget_engine(self) -> None:
        """In a forked child: the parent's engine has no threads here (and
        its metrics port stays the parent's)."""
        self._settings["metrics_address"] = None
        self._lock = threading.Lock()
        self._engine = None
        self._loops = weakref.WeakKeyDictionary()


_clients: "weakref.WeakSet[Client]" = weakref.WeakSet()


def _after_fork_in_child() -> None:
    global _MAIN_THREAD
    _MAIN_THREAD = threading.get_ident()
    for client in list(_clients):
        client._forget_engine()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
