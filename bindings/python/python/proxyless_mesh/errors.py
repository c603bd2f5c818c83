"""The mesh's exceptions: one base class, one subclass per error kind.

Every error the engine raises is a :class:`MeshError` whose ``kind`` is the
engine's stable name for it (``"no_route"``, ``"timeout"``, ...), the same
name the C ABI and Go use. Where Python has a built-in exception for the
same failure, the class inherits it too, so ``except TimeoutError`` or
``except ConnectionError`` keep working around code that moves to the mesh.
"""

from __future__ import annotations

__all__ = [
    "MeshError",
    "NoRouteError",
    "NoHealthyEndpointError",
    "ConfigInvalidError",
    "InvalidRequestError",
    "MeshTimeoutError",
    "OverloadedError",
    "RateLimitedError",
    "TransportError",
    "ClosedError",
    "InternalError",
    "RequestCancelledError",
    "BodyTooLargeError",
    "InvalidArgumentError",
]


class MeshError(Exception):
    """Base class of every error the mesh raises."""

    #: The engine's stable name for this kind of error.
    kind: str = "unknown"


class NoRouteError(MeshError):
    """No listener, virtual host or route matches the request."""

    kind = "no_route"


class NoHealthyEndpointError(MeshError, ConnectionError):
    """The chosen cluster or subset has no usable endpoint."""

    kind = "no_healthy_endpoint"


class ConfigInvalidError(MeshError, ValueError):
    """The configuration was rejected; the message names resource and field."""

    kind = "config_invalid"


class InvalidRequestError(MeshError, ValueError):
    """The request is malformed: method, URL (only ``http://``), a header."""

    kind = "invalid_request"


class MeshTimeoutError(MeshError, TimeoutError):
    """The request's timeout (or a route's) elapsed."""

    kind = "timeout"


class OverloadedError(MeshError):
    """A circuit breaker or a concurrency limit refused the request."""

    kind = "overloaded"


class RateLimitedError(MeshError):
    """A local rate limit refused the request."""

    kind = "rate_limited"


class TransportError(MeshError, ConnectionError):
    """Connecting to the endpoint, or talking with it, failed."""

    kind = "transport"


class ClosedError(MeshError):
    """The client was closed (or the call was in flight when it closed)."""

    kind = "closed"


class InternalError(MeshError):
    """A bug in the mesh: please report it."""

    kind = "internal"


class RequestCancelledError(MeshError):
    """The request was cancelled (its asyncio task was)."""

    kind = "cancelled"


class BodyTooLargeError(MeshError, ValueError):
    """A request or response body is over the client's ``max_body_bytes``."""

    kind = "body_too_large"


class InvalidArgumentError(MeshError, ValueError):
    """The API was misused: a bad option, a decision reported twice, ..."""

    kind = "invalid_argument"
