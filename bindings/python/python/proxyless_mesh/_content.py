"""What the adapters share: which request headers the engine sets itself,
which mesh errors count as connection failures, and the content codings
the ``requests`` adapter decodes."""

from __future__ import annotations

import zlib
from typing import Iterable, List, Optional, Tuple, Union

from . import errors

#: Set by the engine from the body and the URL: a caller's copy is dropped.
FRAMING = frozenset({"content-length", "transfer-encoding", "host", "connection"})

#: The mesh errors an HTTP library reports as a failure to connect: no
#: endpoint was reached, or none could be.
CONNECTION_ERRORS = (
    errors.TransportError,
    errors.NoHealthyEndpointError,
    errors.NoRouteError,
    errors.OverloadedError,
    errors.RateLimitedError,
    errors.ClosedError,
)

#: The codings ``decode`` undoes.
DECODABLE = ("gzip", "deflate")


def outgoing(
    headers: Iterable[Tuple[Union[str, bytes], Union[str, bytes]]],
) -> List[Tuple[Union[str, bytes], Union[str, bytes]]]:
    """The headers to hand to the engine: the framing ones left out."""
    kept = []
    for name, value in headers:
        key = name.decode("latin-1") if isinstance(name, bytes) else name
        if key.lower() not in FRAMING:
            kept.append((name, value))
    return kept


def decode(body: bytes, coding: Optional[str], limit: int) -> bytes:
    """``body`` with its ``Content-Encoding`` (gzip, deflate) undone, at
    most ``limit`` bytes of it (a compressed body is no way around the
    client's ``max_body_bytes``). Raises ``ValueError`` for a coding it
    cannot undo, a corrupt body, or one that grows past ``limit``."""
    if not coding or not body:
        return body
    for step in reversed([c.strip().lower() for c in coding.split(",") if c.strip()]):
        if step in ("gzip", "x-gzip"):
            body = _inflate(body, 16 + zlib.MAX_WBITS, limit)
        elif step == "deflate":
            try:
                body = _inflate(body, zlib.MAX_WBITS, limit)
            except zlib.error:  # raw deflate, as some servers send it
                body = _inflate(body, -zlib.MAX_WBITS, limit)
        elif step != "identity":
            raise ValueError(f"content coding {step!r} cannot be decoded")
    return body


def _inflate(body: bytes, wbits: int, limit: int) -> bytes:
    inflater = zlib.decompressobj(wbits)
    out = inflater.decompress(body, limit + 1)
    if len(out) <= limit and not inflater.unconsumed_tail:
        out += inflater.flush()
    if len(out) > limit or inflater.unconsumed_tail:
        raise ValueError(f"the decoded body is over the limit of {limit} bytes")
    return out


def accept_encoding(value: str) -> Optional[str]:
    """An ``Accept-Encoding`` cut down to the codings ``decode`` undoes."""
    kept = [
        token.strip()
        for token in value.split(",")
        if token.split(";")[0].strip().lower() in (*DECODABLE, "identity")
    ]
    return ", ".join(kept) or None
