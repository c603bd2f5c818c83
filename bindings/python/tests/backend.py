"""Real HTTP/1.1 backends on loopback for the tests: an asyncio server on
a thread of its own, keep-alive, answering by path.

- any path: 200 with the backend's name as the body (``x-backend`` too);
  with ``fail=(k, n, status)``, the first ``k`` of every ``n`` requests
  get ``status`` instead;
- ``/echo``: the request as JSON (method, path, headers, body);
- ``/status/<code>``: that status;
- ``/sleep/<ms>``: answers after that long; ``/hang``: never;
- ``/bytes/<n>``: ``n`` bytes;
- ``/gzip``: a gzip-encoded body; ``/bad-gzip``: one that claims to be;
- ``/utf8-header``: a header whose value is UTF-8 (``x-name: café``);
- ``/cookie``: sets two cookies.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from typing import Dict, List, Optional, Tuple


class Backend:
    """One backend: ``start()``, its ``port``, how many requests it got."""

    def __init__(self, name: str, fail: Optional[Tuple[int, int, int]] = None) -> None:
        self.name = name
        self.fail = fail
        self.received = 0
        self.port = 0
        self._loop = asyncio.new_event_loop()
        self._server: Optional[asyncio.AbstractServer] = None
        self._thread = threading.Thread(
            target=self._loop.run_forever, daemon=True, name=f"backend-{name}"
        )
        self._writers: List[asyncio.StreamWriter] = []

    def start(self) -> "Backend":
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self._listen(), self._loop)
        future.result(timeout=10)
        return self

    def stop(self) -> None:
        async def close() -> None:
            assert self._server is not None
            self._server.close()
            for writer in self._writers:
                writer.close()
            current = asyncio.current_task()
            serving = [t for t in asyncio.all_tasks() if t is not current]
            for task in serving:
                task.cancel()
            await asyncio.gather(*serving, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, backlog=2048)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers: Dict[str, str] = {}
                for line in lines[1:]:
                    if line:
                        name, _, value = line.partition(":")
                        headers[name.strip().lower()] = value.strip()
                body = b""
                if "content-length" in headers:
                    body = await reader.readexactly(int(headers["content-length"]))
                elif headers.get("transfer-encoding", "").lower() == "chunked":
                    body = await _read_chunked(reader)
                status, extra, payload = await self._answer(method, target, headers, body)
                response = [
                    f"HTTP/1.1 {status} X",
                    f"content-length: {len(payload)}",
                    f"x-backend: {self.name}",
                ]
                response += [f"{k}: {v}" for k, v in extra]
                writer.write(("\r\n".join(response) + "\r\n\r\n").encode("latin-1") + payload)
                await writer.drain()
        except (
            asyncio.IncompleteReadError,
            ConnectionError,
            asyncio.LimitOverrunError,
            asyncio.CancelledError,
        ):
            pass
        finally:
            writer.close()

    async def _answer(
        self, method: str, target: str, headers: Dict[str, str], body: bytes
    ) -> Tuple[int, List[Tuple[str, str]], bytes]:
        self.received += 1
        path = target.split("?", 1)[0]
        if path == "/echo":
            echo = {
                "backend": self.name,
                "method": method,
                "target": target,
                "headers": headers,
                "body": body.decode("latin-1"),
            }
            return 200, [("content-type", "application/json")], json.dumps(echo).encode()
        if path.startswith("/status/"):
            return int(path.rsplit("/", 1)[1]), [], self.name.encode()
        if path.startswith("/sleep/"):
            await asyncio.sleep(int(path.rsplit("/", 1)[1]) / 1000)
            return 200, [], self.name.encode()
        if path == "/hang":
            await asyncio.sleep(3600)
        if path.startswith("/bytes/"):
            return 200, [], b"x" * int(path.rsplit("/", 1)[1])
        if path == "/gzip":
            return (
                200,
                [("content-encoding", "gzip")],
                gzip.compress(b"compressed " + self.name.encode()),
            )
        if path == "/utf8-header":
            # The value's UTF-8 bytes, written as they are.
            return 200, [("x-name", "café".encode().decode("latin-1"))], b"ok"
        if path == "/bad-gzip":
            return 200, [("content-encoding", "gzip")], b"not gzip at all"
        if path == "/cookie":
            return (
                200,
                [("set-cookie", "session=abc; Path=/"), ("set-cookie", "theme=dark; Path=/")],
                b"ok",
            )
        if self.fail is not None:
            failing, window, status = self.fail
            if (self.received - 1) % window < failing:
                return status, [], self.name.encode()
        return 200, [], self.name.encode()


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    body = b""
    while True:
        size = int((await reader.readline()).strip(), 16)
        if size == 0:
            await reader.readline()
            return body
        body += await reader.readexactly(size)
        await reader.readline()
