"""The ARI client: REST calls and the events WebSocket, on aiohttp.

Named ``ari_`` so that it never shadows a package called ``ari``.

Two Asterisk behaviours shape this module:

* ARI errors are translated once, here: a 404 on a channel is ``ChannelGone``
  (the caller hung up, a normal event), a 409 is ``NotInStasis``, a 401 is
  ``AriAuthError``. Everything above works with those.
* The events WebSocket can drop at any time. Asterisk keeps our channels in the
  application meanwhile and drops (does not queue) their events, so
  ``EventStream`` reconnects with backoff and calls ``on_connect`` each time,
  where the application re-adopts its channels and checks what it missed.
"""

import asyncio
import json
import logging
import random
import urllib.parse

import aiohttp

from .exceptions import AriAuthError, AriError, ChannelGone, NotInStasis

logger = logging.getLogger(__name__)

REQUEST_TIMEOUT = aiohttp.ClientTimeout(total=10, connect=3)


class AriClient:
    """REST calls to Asterisk's ARI, with errors translated to msp-intake's own."""

    def __init__(self, settings):
        self.settings = settings
        self.base = settings.url + "/ari"
        self._session = None

    async def open(self):
        if self._session is None:
            self._session = aiohttp.ClientSession(
                headers={
                    "Authorization": aiohttp.encode_basic_auth(
                        self.settings.username, self.settings.password
                    )
                },
                timeout=REQUEST_TIMEOUT,
                connector=aiohttp.TCPConnector(limit=50),
            )
        return self

    async def close(self):
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def session(self):
        if self._session is None:
            raise RuntimeError("AriClient.open() was not called")
        return self._session

    async def request(self, method, path, *, params=None, body=None):
        """One REST call; returns the decoded JSON body, or None for 204."""
        url = self.base + path
        clean = {k: _param(v) for k, v in (params or {}).items() if v is not None}
        try:
            async with self.session.request(
                method, url, params=clean, json=body
            ) as response:
                if response.status == 204:
                    return None
                text = await response.text()
                if response.status >= 400:
                    raise _error(method, path, response.status, text)
                return json.loads(text) if text else None
        except aiohttp.ClientError as exc:
            raise AriError(method, path, 0, f"Asterisk unreachable ({exc})") from exc
        except TimeoutError as exc:
            raise AriError(method, path, 0, "Asterisk did not answer in time") from exc

    # The calls the application makes, named after what they do to the call.

    async def get_channel(self, channel_id):
        return await self.request("GET", f"/channels/{_quote(channel_id)}")

    async def answer(self, channel_id):
        await self.request("POST", f"/channels/{_quote(channel_id)}/answer")

    async def play(self, channel_id, media, playback_id):
        """Start a playback whose id we chose, so its events can be told apart
        even when they arrive before this request's response."""
        path = f"/channels/{_quote(channel_id)}/play/{_quote(playback_id)}"
        return await self.request("POST", path, params={"media": media})

    async def stop_playback(self, playback_id):
        await self.request("DELETE", f"/playbacks/{_quote(playback_id)}")

    async def get_playback(self, playback_id):
        return await self.request("GET", f"/playbacks/{_quote(playback_id)}")

    async def set_variable(self, channel_id, name, value):
        path = f"/channels/{_quote(channel_id)}/variable"
        await self.request("POST", path, params={"variable": name, "value": value})

    async def continue_in_dialplan(self, channel_id, context, extension, priority):
        path = f"/channels/{_quote(channel_id)}/continue"
        params = {"context": context, "extension": extension, "priority": priority}
        await self.request("POST", path, params=params)

    async def hangup(self, channel_id, reason="normal"):
        await self.request(
            "DELETE", f"/channels/{_quote(channel_id)}", params={"reason": reason}
        )

    async def application(self, name):
        return await self.request("GET", f"/applications/{_quote(name)}")

    async def ping(self):
        return await self.request("GET", "/asterisk/ping")


def _quote(value):
    return urllib.parse.quote(str(value), safe="")


def _param(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _error(method, path, status, text):
    try:
        message = json.loads(text).get("message", text)
    except (ValueError, AttributeError):
        message = text.strip() or "no message"
    if status == 401:
        return AriAuthError("Asterisk refused the ARI username or password")
    if path.startswith("/channels/") and status == 404:
        return ChannelGone(method, path, status, message)
    if path.startswith("/channels/") and status == 409:
        return NotInStasis(method, path, status, message)
    return AriError(method, path, status, message)


class EventStream:
    """The events WebSocket, kept connected for as long as the service runs.

    ``handler(event)`` is called for every event, in order, from the event loop;
    it must not block. ``on_connect()`` is awaited after every (re)connection,
    before the next event is read.
    """

    def __init__(self, client, handler, on_connect, *, max_backoff=10.0):
        self.client = client
        self.handler = handler
        self.on_connect = on_connect
        self.max_backoff = max_backoff
        self.connected = asyncio.Event()
        self.connections = 0
        self._ws = None
        self._stopping = False

    async def run(self):
        """Connect, read, reconnect; returns only when ``stop()`` is called.

        An authentication failure is raised at once: retrying cannot fix it.
        """
        delay = 0.25
        while not self._stopping:
            try:
                await self._session_once()
                delay = 0.25
            except AriAuthError:
                raise
            except (aiohttp.ClientError, OSError, TimeoutError, AriError) as exc:
                if self._stopping:
                    break
                logger.warning(
                    "ARI events connection to %s failed: %s; retrying in %.1f s",
                    self.client.base,
                    exc,
                    delay,
                )
            self.connected.clear()
            if self._stopping:
                break
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            delay = min(delay * 2, self.max_backoff)

    async def _session_once(self):
        url = self.client.base + "/events"
        params = {"app": self.client.settings.app}
        try:
            ws = await self.client.session.ws_connect(
                url,
                params=params,
                heartbeat=10,
                protocols=("ari",),
                timeout=aiohttp.ClientWSTimeout(ws_close=10),
            )
        except aiohttp.WSServerHandshakeError as exc:
            if exc.status == 401:
                raise AriAuthError(
                    "Asterisk refused the ARI username or password"
                ) from exc
            raise
        self._ws = ws
        self.connections += 1
        logger.info(
            "ARI events connected to %s as app %s (connection %d)",
            self.client.base,
            self.client.settings.app,
            self.connections,
        )
        try:
            await self.on_connect()
            self.connected.set()
            async for message in ws:
                if message.type == aiohttp.WSMsgType.TEXT:
                    self._dispatch(message.data)
                elif message.type in (aiohttp.WSMsgType.ERROR, aiohttp.WSMsgType.CLOSE):
                    break
        finally:
            self._ws = None
            await ws.close()
        if not self._stopping:
            logger.warning("ARI events connection closed by Asterisk; reconnecting")

    def _dispatch(self, data):
        try:
            event = json.loads(data)
        except ValueError:
            logger.warning("ARI sent an event that is not JSON: %.200s", data)
            return
        try:
            self.handler(event)
        except Exception:
            # One bad event must not end the stream for every other call.
            logger.exception("handling ARI %s event failed", event.get("type"))

    async def stop(self):
        self._stopping = True
        if self._ws is not None:
            await self._ws.close()
