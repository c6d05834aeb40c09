"""Fixtures for testing the fake Asterisk: a running fake and a tiny ARI client.

The client is deliberately naive (aiohttp, no project code) so these tests check
the double against the recorded Asterisk behaviour, not against our own app.
"""

from __future__ import annotations

import asyncio
import base64
import json
import pathlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import pytest

from ari_app.doubles.asterisk import FakeAsterisk

FIXTURES = pathlib.Path(__file__).parent / "fixtures"
USER, PASSWORD = "msp-intake", "secret"


def load_fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def describe(event: dict[str, Any]) -> str:
    """An event as ``TYPE`` or ``TYPE:DETAIL``, the notation of the fixtures."""
    kind = event["type"]
    if kind.startswith("Playback"):
        return f"{kind}:{event['playback']['state']}"
    if kind.startswith("Recording"):
        return f"{kind}:{event['recording']['state']}"
    if kind == "ChannelDtmfReceived":
        return f"{kind}:{event['digit']}"
    if kind == "ChannelVarset":
        return f"{kind}:{event['variable']}"
    return kind


class EventStream:
    """One events WebSocket whose messages are collected in arrival order."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self._changed = asyncio.Condition()
        self._task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for message in self.ws:
            if message.type == aiohttp.WSMsgType.TEXT:
                async with self._changed:
                    self.events.append(json.loads(message.data))
                    self._changed.notify_all()

    async def wait_for(
        self, predicate: Callable[[dict[str, Any]], bool], timeout: float = 3.0
    ) -> dict[str, Any]:
        async def scan() -> dict[str, Any]:
            async with self._changed:
                while True:
                    for event in self.events:
                        if predicate(event):
                            return event
                    await self._changed.wait()

        return await asyncio.wait_for(scan(), timeout)

    async def wait_type(self, kind: str, timeout: float = 3.0) -> dict[str, Any]:
        return await self.wait_for(lambda e: e["type"] == kind, timeout)

    def types_since(self, start: int) -> list[str]:
        return [describe(e) for e in self.events[start:]]

    async def close(self) -> None:
        await self.ws.close()
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


class AriClient:
    """Just enough ARI over aiohttp to drive the double from a test."""

    def __init__(self, fake: FakeAsterisk, session: aiohttp.ClientSession) -> None:
        self.fake = fake
        self.session = session
        self.streams: list[EventStream] = []

    def url(self, path: str) -> str:
        return self.fake.ari_url + path

    async def call(
        self, method: str, path: str, **kwargs: Any
    ) -> tuple[int, Any, aiohttp.ClientResponse]:
        async with self.session.request(method, self.url(path), **kwargs) as resp:
            body: Any = None
            if resp.content_type == "application/json":
                body = await resp.json()
            elif resp.status != 204:
                body = await resp.read()
            return resp.status, body, resp

    async def connect(self, app: str = "msp-intake") -> EventStream:
        ws = await self.session.ws_connect(
            self.url(f"/events?app={app}&api_key={USER}:{PASSWORD}"),
            protocols=("ari",),
        )
        stream = EventStream(ws)
        self.streams.append(stream)
        return stream


@pytest.fixture
def fake_options() -> dict[str, Any]:
    return {}


@pytest.fixture
async def fake(fake_options: dict[str, Any]) -> AsyncIterator[FakeAsterisk]:
    options = {"utc_offset": "-0500", "sound_seconds": 0.3, **fake_options}
    double = FakeAsterisk(username=USER, password=PASSWORD, **options)
    await double.start()
    try:
        yield double
    finally:
        await double.stop()


@pytest.fixture
async def ari(fake: FakeAsterisk) -> AsyncIterator[AriClient]:
    token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    headers = {"Authorization": f"Basic {token}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        client = AriClient(fake, session)
        try:
            yield client
        finally:
            for stream in client.streams:
                await stream.close()
