"""A ``requests`` transport adapter: mount it and a ``Session`` sends its
``http://`` requests through the mesh::

    import requests
    from proxyless_mesh import Client
    from proxyless_mesh.requests_adapter import MeshAdapter

    session = requests.Session()
    session.mount("http://", MeshAdapter(Client(config=yaml)))
    session.get("http://order-service/orders/1")

Mesh errors become the ``requests`` exceptions code already catches
(``Timeout``, ``ConnectionError``, ``RequestException``), with the mesh
error as their ``__cause__``. ``timeout`` bounds the whole call (a
``(connect, read)`` pair bounds it by their sum: the engine has one
deadline per call). The response is read whole: ``stream=True`` gets the
buffered body. ``verify``, ``cert`` and ``proxies`` do not apply: TLS is
the cluster's setting and the mesh is the proxy.
"""

from __future__ import annotations

import http.client
import io
import zlib
from http import HTTPStatus
from typing import Any, List, Optional, Tuple, Union

import requests
from requests.adapters import BaseAdapter
from requests.cookies import extract_cookies_to_jar
from requests.structures import CaseInsensitiveDict
from requests.utils import get_encoding_from_headers

from . import _content, errors
from ._client import Client

__all__ = ["MeshAdapter"]


class MeshAdapter(BaseAdapter):
    """Sends a ``requests.Session``'s requests through ``client``. The
    adapter does not own the client: closing the session leaves it open."""

    def __init__(self, client: Client) -> None:
        super().__init__()
        self.client = client

    def send(
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Union[None, float, tuple] = None,
        verify: Any = True,
        cert: Any = None,
        proxies: Any = None,
    ) -> requests.Response:
        headers: List[Tuple[str, Union[str, bytes]]] = []
        for name, value in request.headers.items():
            if name.lower() in _content.FRAMING:
                continue
            if name.lower() == "accept-encoding":
                codings = _content.accept_encoding(str(value))
                if codings is not None:
                    headers.append((name, codings))
                continue
            headers.append((name, value))
        try:
            answer = self.client.request(
                request.method or "GET",
                request.url or "",
                headers=headers,
                body=_body(request.body),
                timeout=_timeout(timeout),
            )
        except errors.MeshTimeoutError as e:
            raise requests.exceptions.ReadTimeout(str(e), request=request) from e
        except _content.CONNECTION_ERRORS as e:
            raise requests.exceptions.ConnectionError(str(e), request=request) from e
        except errors.MeshError as e:
            raise requests.exceptions.RequestException(str(e), request=request) from e
        return self._response(request, answer)

    def close(self) -> None:
        """Nothing to release: the client belongs to its creator."""

    def _response(self, request: requests.PreparedRequest, answer: Any) -> requests.Response:
        response = requests.Response()
        response.status_code = answer.status
        headers: CaseInsensitiveDict = CaseInsensitiveDict()
        message = http.client.HTTPMessage()
        for name, value in answer.headers:
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
            message[name] = value
        response.headers = headers
        try:
            response.reason = HTTPStatus(answer.status).phrase
        except ValueError:
            response.reason = ""
        limit = self.client.max_body_bytes
        try:
            response._content = _content.decode(answer.body, headers.get("content-encoding"), limit)
        except (ValueError, zlib.error) as e:
            raise requests.exceptions.ContentDecodingError(str(e), request=request) from e
        response._content_consumed = True
        # `Session` reads cookies from `raw` as it would from urllib3's
        # response: its `_original_response.msg`.
        response.raw = _Raw(response._content, message)
        response.encoding = get_encoding_from_headers(headers)
        response.url = request.url or ""
        response.request = request
        response.connection = self  # type: ignore[assignment]  # typed as HTTPAdapter
        extract_cookies_to_jar(response.cookies, request, response.raw)
        return response


class _Raw(io.BytesIO):
    """The body as a file, with what ``extract_cookies_to_jar`` reads from
    a urllib3 response."""

    def __init__(self, body: bytes, message: http.client.HTTPMessage) -> None:
        super().__init__(body)
        self._original_response = _Original(message)


class _Original:
    def __init__(self, message: http.client.HTTPMessage) -> None:
        self.msg = message


def _body(body: Any) -> Optional[Union[bytes, str]]:
    """A prepared body as bytes: files and iterables are read whole."""
    if body is None or isinstance(body, (bytes, str)):
        return body
    if hasattr(body, "read"):
        return body.read()
    return b"".join(part.encode() if isinstance(part, str) else part for part in body)


def _timeout(timeout: Union[None, float, tuple]) -> Optional[float]:
    if isinstance(timeout, tuple):
        connect, read = timeout
        if connect is None or read is None:
            return None
        return float(connect) + float(read)
    return timeout
