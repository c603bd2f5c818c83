"""What the adapters share: which request headers the engine sets itself,
and the content codings the ``requests`` adapter decodes."""

from __future__ import annotations

import zlib
from typing import Iterable, List, Optional, Tuple, Union

#: Set by the engine from the body and the URL: a caller's copy is dropped.
FRAMING = frozenset({"content-length", "transfer-encoding", "host", "connection"})

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


def decode(body: bytes, coding: Optional[str]) -> bytes:
    """``body`` with its ``Content-Encoding`` (gzip, deflate) undone."""
    if not coding or not body:
        return body
    for step in reversed([c.strip().lower() for c in coding.split(",") if c.strip()]):
        if step == "gzip" or step == "x-gzip":
            body = zlib.decompress(body, 16 + zlib.MAX_WBITS)
        elif step == "deflate":
            try:
                body = zlib.decompress(body)
            except zlib.error:  # raw deflate, as some servers send it
                body = zlib.decompress(body, -zlib.MAX_WBITS)
        elif step != "identity":
            raise ValueError(f"content coding {step!r} cannot be decoded")
    return body


def accept_encoding(value: str) -> Optional[str]:
    """An ``Accept-Encoding`` cut down to the codings ``decode`` undoes."""
    kept = [
        token.strip()
        for token in value.split(",")
        if token.split(";")[0].strip().lower() in (*DECODABLE, "identity")
    ]
    return ", ".join(kept) or None
