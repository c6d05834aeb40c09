"""The events WebSocket side of the fake Asterisk.

Each Stasis application has at most one live socket.  Events are put on that
socket's queue in the order the PBX produces them; a REST handler that must let
its events reach the app before its own response (Asterisk often does this for
playbacks and recordings) awaits ``flush``.  An application whose socket is gone
simply misses its events: Asterisk does not queue or replay them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
from typing import Any

from aiohttp import web

from .asterisk_model import Clock

logger = logging.getLogger(__name__)

# How long a flush waits for a reader before giving up on it.
_FLUSH_TIMEOUT = 2.0


class EventSocket:
    """One connected ``/ari/events`` WebSocket and its ordered send queue."""

    def __init__(self, ws: web.WebSocketResponse, request: web.Request) -> None:
        self.ws = ws
        self.transport = request.transport
        self.apps: set[str] = set()
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        self._writer = asyncio.create_task(self._write_loop())
        self.closed = False
        self._stopping = False

    def push(self, message: dict[str, Any]) -> None:
        if not self.closed:
            self._queue.put_nowait(json.dumps(message))

    async def flush(self) -> None:
        if self.closed:
            return
        try:
            await asyncio.wait_for(self._queue.join(), _FLUSH_TIMEOUT)
        except TimeoutError:
            logger.warning("events socket for %s is not draining", self.apps)

    def abort(self) -> None:
        """Cut the TCP connection without a close frame, like a network drop."""
        self.stop()
        if self.transport is not None:
            self.transport.abort()

    def stop(self) -> None:
        """Stop sending; whatever is still queued is discarded."""
        if not self._stopping:
            self._stopping = True
            self.closed = True
            self._queue.put_nowait(None)

    async def close(self) -> None:
        self.stop()
        await self.ws.close()
        await self._writer

    async def _write_loop(self) -> None:
        while True:
            text = await self._queue.get()
            try:
                if text is None:
                    return
                if not self.closed and not self.ws.closed:
                    await self.ws.send_str(text)
            except (ConnectionError, RuntimeError) as exc:
                logger.debug("events socket for %s lost: %s", self.apps, exc)
                self.closed = True
            finally:
                self._queue.task_done()


@dataclasses.dataclass
class Application:
    name: str
    socket: EventSocket | None = None


class EventHub:
    """Routes events to the one socket that currently serves each application."""

    def __init__(self, clock: Clock, asterisk_id: str) -> None:
        self.clock = clock
        self.asterisk_id = asterisk_id
        self.apps: dict[str, Application] = {}
        self.sockets: set[EventSocket] = set()

    def is_active(self, app: str) -> bool:
        entry = self.apps.get(app)
        return bool(entry and entry.socket and not entry.socket.closed)

    def register(self, socket: EventSocket, names: list[str]) -> None:
        self.sockets.add(socket)
        for name in names:
            entry = self.apps.setdefault(name, Application(name))
            old = entry.socket
            if old is not None and old is not socket and not old.closed:
                # The old socket stays open but hears nothing more for this app.
                old.push(self._envelope(name, "ApplicationReplaced", {}))
                old.apps.discard(name)
                logger.info("application %s replaced by a new socket", name)
            entry.socket = socket
            socket.apps.add(name)
        logger.info("events socket connected for %s", ",".join(names))

    def unregister(self, socket: EventSocket) -> None:
        socket.stop()
        self.sockets.discard(socket)
        for name in socket.apps:
            entry = self.apps.get(name)
            if entry is not None and entry.socket is socket:
                entry.socket = None
        logger.info("events socket closed for %s", ",".join(sorted(socket.apps)))

    def emit(self, app: str, event_type: str, **payload: Any) -> None:
        entry = self.apps.get(app)
        if entry is None or entry.socket is None or entry.socket.closed:
            logger.debug("inactive app %s missed %s", app, event_type)
            return
        entry.socket.push(self._envelope(app, event_type, payload))

    async def flush(self) -> None:
        await asyncio.gather(*(socket.flush() for socket in list(self.sockets)))

    def _envelope(self, app: str, event_type: str, payload: dict) -> dict:
        message = {"type": event_type, "timestamp": self.clock.now()}
        message.update(payload)
        message["asterisk_id"] = self.asterisk_id
        message["application"] = app
        return message
