"""asyncio glue: requests handed to the engine, answered on the event loop.

``Engine.submit`` starts a request on the engine's own threads and queues
its result on a per-loop :class:`_native.Completions`; when the queue goes
from empty to not empty, the engine writes one byte to a socket pair the
loop watches. The loop's reader callback drains every queued result and
resolves the waiting futures. The engine's threads never take the GIL, and
a burst of results costs the loop one wake-up.
"""

from __future__ import annotations

import asyncio
from typing import Any, Dict, cast

from . import _native


class LoopCompletions:
    """The results queue of one event loop, and its waiting futures."""

    __slots__ = ("native", "pending", "loop", "__weakref__")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.native = _native.Completions()
        self.pending: Dict[int, "asyncio.Future[Any]"] = {}
        self.loop = loop
        loop.add_reader(self.native.fileno(), self._drain)

    def close(self) -> None:
        """After the engine has closed (every request answered): resolves
        what is left and stops watching, on the loop's own thread."""

        def detach() -> None:
            self._drain()
            self.loop.remove_reader(self.native.fileno())

        try:
            self.loop.call_soon_threadsafe(detach)
        except RuntimeError:
            pass  # the loop is closed: its selector, and our reader, are gone

    async def send(
        self,
        engine: _native.Engine,
        token: int,
        method: str,
        url: str,
        headers: Any,
        body: Any,
        timeout: Any,
    ) -> _native.Response:
        future = asyncio.get_running_loop().create_future()
        self.pending[token] = future
        try:
            handle = engine.submit(self.native, token, method, url, headers, body, timeout)
        except BaseException:
            del self.pending[token]
            raise
        try:
            return await future
        except asyncio.CancelledError:
            handle.cancel()
            raise

    def _drain(self) -> None:
        pending = self.pending
        for token, ok, value in self.native.drain():
            future = pending.pop(token, None)
            if future is None or future.done():
                continue  # its task was cancelled
            if ok:
                future.set_result(value)
            else:
                future.set_exception(cast(BaseException, value))
