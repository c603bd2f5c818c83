"""``httpx`` transports: pass one to a client and its ``http://`` requests
go through the mesh::

    import httpx
    from proxyless_mesh import Client
    from proxyless_mesh.httpx_transport import AsyncMeshTransport, MeshTransport

    mesh = Client(config=yaml)
    httpx.Client(transport=MeshTransport(mesh)).get("http://order-service/")
    httpx.AsyncClient(transport=AsyncMeshTransport(mesh))   # awaits arequest

Mesh errors become httpx's own (``ReadTimeout``, ``ConnectError``,
``UnsupportedProtocol``, ``TransportError``) with the mesh error as their
``__cause__``. The whole call is bounded by the request's connect and read
timeouts together (the engine has one deadline per call). httpx decodes
the body's content coding itself.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

import httpx

from . import _content, errors
from ._client import Client

__all__ = ["MeshTransport", "AsyncMeshTransport"]


class MeshTransport(httpx.BaseTransport):
    """A synchronous httpx transport over ``client`` (not owned by it)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        try:
            answer = self.client.request(request.method, str(request.url), **_options(request))
        except errors.MeshError as e:
            raise _httpx_error(e, request) from e
        return _response(answer)


class AsyncMeshTransport(httpx.AsyncBaseTransport):
    """An asyncio httpx transport over ``client`` (not owned by it)."""

    def __init__(self, client: Client) -> None:
        self.client = client

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        try:
            answer = await self.client.arequest(
                request.method, str(request.url), **_options(request)
            )
        except errors.MeshError as e:
            raise _httpx_error(e, request) from e
        return _response(answer)


def _options(request: httpx.Request) -> Dict[str, Any]:
    """The client's keyword arguments for a request whose body was read."""
    return {
        "headers": _content.outgoing(request.headers.raw),
        "body": request.content or None,
        "timeout": _timeout(request),
    }


def _timeout(request: httpx.Request) -> Optional[float]:
    timeouts = request.extensions.get("timeout") or {}
    connect, read = timeouts.get("connect"), timeouts.get("read")
    if connect is None or read is None:
        return None
    return float(connect) + float(read)


def _response(answer) -> httpx.Response:
    # Back to the bytes received (the values are Latin-1 `str`): httpx
    # would encode `str` headers as ASCII.
    return httpx.Response(
        answer.status,
        headers=[(n.encode("latin-1"), v.encode("latin-1")) for n, v in answer.headers],
        stream=httpx.ByteStream(answer.body),
    )


def _httpx_error(error: errors.MeshError, request: httpx.Request) -> httpx.TransportError:
    message = str(error)
    if isinstance(error, errors.MeshTimeoutError):
        return httpx.ReadTimeout(message, request=request)
    if isinstance(error, _content.CONNECTION_ERRORS):
        return httpx.ConnectError(message, request=request)
    if isinstance(error, errors.InvalidRequestError) and request.url.scheme != "http":
        return httpx.UnsupportedProtocol(message, request=request)
    return httpx.TransportError(message, request=request)
