"""The HTTP face of the fake Asterisk: ARI routes under ``/ari``.

Each handler reads its parameters (query string or top-level JSON body keys, as
Asterisk accepts both), asks the ``Pbx`` to act, and answers with the status
codes and ``{"message": ...}`` bodies Asterisk 22 uses.  Handlers whose events
Asterisk delivers before the HTTP response flush the event queue first.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from .asterisk_events import EventHub, EventSocket
from .asterisk_model import AriError
from .asterisk_pbx import Pbx

logger = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

HANGUP_REASONS = {
    "normal": 16,
    "busy": 17,
    "congestion": 34,
    "no_answer": 19,
    "timeout": 18,
    "rejected": 21,
    "unallocated": 1,
    "normal_unspecified": 31,
    "number_incomplete": 28,
    "codec_mismatch": 58,
    "interworking": 127,
    "failure": 38,
    "answered_elsewhere": 26,
}


def error_response(status: int, message: str, **headers: str) -> web.Response:
    return web.json_response({"message": message}, status=status, headers=headers)


async def read_params(request: web.Request) -> dict[str, str]:
    """Query parameters merged with the top-level keys of a JSON body."""
    params = {key: value for key, value in request.query.items()}
    if request.can_read_body:
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if isinstance(body, dict):
            for key, value in body.items():
                if isinstance(value, bool):
                    params[key] = "true" if value else "false"
                elif value is not None and not isinstance(value, dict | list):
                    params[key] = str(value)
    return params


class AriRoutes:
    """Binds the ARI URL space to one ``Pbx``."""

    def __init__(
        self,
        pbx: Pbx,
        hub: EventHub,
        credentials: tuple[str, str],
        started: float,
    ) -> None:
        self.pbx = pbx
        self.hub = hub
        self.credentials = credentials
        self.started = started

    def build_app(self) -> web.Application:
        app = web.Application(middlewares=[self.ari_middleware])
        get, post, delete = "GET", "POST", "DELETE"
        routes: list[tuple[str, str, Handler]] = [
            (get, "/ari/events", self.events),
            (get, "/ari/applications", self.list_applications),
            (get, "/ari/applications/{name}", self.get_application),
            (get, "/ari/asterisk/info", self.asterisk_info),
            (get, "/ari/asterisk/ping", self.asterisk_ping),
            (get, "/ari/channels", self.list_channels),
            (post, "/ari/channels", self.originate),
            (post, "/ari/channels/externalMedia", self.external_media),
            (post, "/ari/channels/{id}", self.originate),
            (get, "/ari/channels/{id}", self.get_channel),
            (delete, "/ari/channels/{id}", self.hangup),
            (post, "/ari/channels/{id}/answer", self.answer),
            (post, "/ari/channels/{id}/play", self.play),
            (post, "/ari/channels/{id}/play/{playbackId}", self.play),
            (post, "/ari/channels/{id}/variable", self.set_variable),
            (get, "/ari/channels/{id}/variable", self.get_variable),
            (post, "/ari/channels/{id}/continue", self.continue_in_dialplan),
            (post, "/ari/channels/{id}/record", self.record),
            (get, "/ari/playbacks/{id}", self.get_playback),
            (delete, "/ari/playbacks/{id}", self.stop_playback),
            (get, "/ari/recordings/stored", self.list_stored),
            (get, "/ari/recordings/stored/{name}", self.get_stored),
            (delete, "/ari/recordings/stored/{name}", self.delete_stored),
            (get, "/ari/recordings/stored/{name}/file", self.stored_file),
            (get, "/ari/recordings/live/{name}", self.get_live),
            (delete, "/ari/recordings/live/{name}", self.cancel_live),
            (post, "/ari/recordings/live/{name}/stop", self.stop_live),
            (get, "/ari/bridges", self.list_bridges),
            (post, "/ari/bridges", self.create_bridge),
            (get, "/ari/bridges/{id}", self.get_bridge),
            (delete, "/ari/bridges/{id}", self.destroy_bridge),
            (post, "/ari/bridges/{id}/addChannel", self.add_channel),
            (post, "/ari/bridges/{id}/removeChannel", self.remove_channel),
        ]
        for method, path, handler in routes:
            app.router.add_route(method, path, handler)
        return app

    # -- cross-cutting rules -------------------------------------------------

    @web.middleware
    async def ari_middleware(
        self, request: web.Request, handler: Handler
    ) -> web.StreamResponse:
        path = request.path
        if path.startswith("/ari/") and path.endswith("/") and len(path) > 5:
            # Asterisk refuses these before it even looks at credentials.
            hint = path.rstrip("/")
            return error_response(404, f"ARI URLs do not end with a slash. Try {hint}")
        if not self._authorised(request):
            return error_response(
                401,
                "Authentication required",
                **{"WWW-Authenticate": 'Basic realm="Asterisk REST Interface"'},
            )
        try:
            return await handler(request)
        except AriError as exc:
            logger.debug(
                "%s %s -> %s %s", request.method, path, exc.status, exc.message
            )
            return error_response(exc.status, exc.message)
        except web.HTTPMethodNotAllowed as exc:
            return error_response(
                405, "Invalid method", Allow=",".join(sorted(exc.allowed_methods))
            )
        except web.HTTPNotFound:
            return error_response(404, "Resource not found")

    def _authorised(self, request: web.Request) -> bool:
        expected = "{}:{}".format(*self.credentials)
        api_key = request.query.get("api_key")
        if api_key is not None:
            return api_key == expected
        header = request.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            return base64.b64decode(encoded).decode() == expected
        except (binascii.Error, UnicodeDecodeError):
            return False

    async def _settle(self) -> None:
        """Let queued events reach the app before this response, like Asterisk."""
        if self.pbx.settings.events_before_response:
            await self.hub.flush()

    # -- events WebSocket ----------------------------------------------------

    async def events(self, request: web.Request) -> web.StreamResponse:
        apps = [name for name in request.query.get("app", "").split(",") if name]
        if not apps:
            raise AriError(400, "HTTP request is missing param: [app]")
        offered = request.headers.get("Sec-WebSocket-Protocol")
        if offered and "ari" not in [p.strip() for p in offered.split(",")]:
            raise AriError(400, "Unsupported WebSocket subprotocol")
        ws = web.WebSocketResponse(protocols=("ari",))
        await ws.prepare(request)
        socket = EventSocket(ws, request)
        self.hub.register(socket, apps)
        try:
            # Nothing the app sends is acted on; reading keeps pings answered.
            async for _message in ws:
                pass
        finally:
            self.hub.unregister(socket)
        return ws

    # -- applications and system ---------------------------------------------

    async def list_applications(self, request: web.Request) -> web.Response:
        return web.json_response(self.pbx.applications())

    async def get_application(self, request: web.Request) -> web.Response:
        return web.json_response(self.pbx.application(request.match_info["name"]))

    async def asterisk_info(self, request: web.Request) -> web.Response:
        clock = self.pbx.clock
        sections: dict[str, Any] = {
            "build": {
                "os": "Linux",
                "kernel": "6.1.0",
                "options": "",
                "machine": "x86_64",
                "date": "2026-06-25 00:00:00 UTC",
                "user": "fake",
            },
            "system": {"version": "22.10.1", "entity_id": self.hub.asterisk_id},
            "config": {
                "name": "",
                "default_language": "en",
                "setid": {"user": "asterisk", "group": "asterisk"},
            },
            "status": {
                "startup_time": clock.render(self.started),
                "last_reload_time": clock.render(self.started),
            },
        }
        only = request.query.get("only")
        if only:
            wanted = only.split(",")
            sections = {k: v for k, v in sections.items() if k in wanted}
        return web.json_response(sections)

    async def asterisk_ping(self, request: web.Request) -> web.Response:
        return web.json_response(
            {
                "asterisk_id": self.hub.asterisk_id,
                "ping": "pong",
                "timestamp": self.pbx.clock.now(),
            }
        )

    # -- channels ------------------------------------------------------------

    async def list_channels(self, request: web.Request) -> web.Response:
        return web.json_response([c.to_json() for c in self.pbx.channels()])

    async def originate(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        body = self.pbx.originate(params, request.match_info.get("id", ""))
        return web.json_response(body)

    async def get_channel(self, request: web.Request) -> web.Response:
        line = self.pbx.find(request.match_info["id"])
        return web.json_response(line.channel.to_json())

    async def hangup(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        cause = _hangup_cause(params)
        # The hangup events follow the 204, as in recorded traffic.
        self.pbx.hangup(request.match_info["id"], cause=cause, by="app")
        return web.Response(status=204)

    async def answer(self, request: web.Request) -> web.Response:
        self.pbx.answer(request.match_info["id"])
        await self.hub.flush()  # answer is synchronous in Asterisk
        return web.Response(status=204)

    async def play(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        media = [m for m in params.get("media", "").split(",") if m]
        playback_id = request.match_info.get("playbackId") or params.get(
            "playbackId", ""
        )
        playback = self.pbx.play(
            request.match_info["id"], media, playback_id, params.get("lang", "")
        )
        body = playback.to_json()
        await self._settle()
        return web.json_response(
            body, status=201, headers={"Location": f"/ari/playbacks/{playback.id}"}
        )

    async def set_variable(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        self.pbx.set_variable(
            request.match_info["id"],
            params.get("variable", ""),
            params.get("value", ""),
        )
        await self.hub.flush()
        return web.Response(status=204)

    async def get_variable(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        value = self.pbx.get_variable(
            request.match_info["id"], params.get("variable", "")
        )
        return web.json_response({"value": value})

    async def continue_in_dialplan(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        self.pbx.continue_in_dialplan(
            request.match_info["id"],
            params.get("context", ""),
            params.get("extension", ""),
            params.get("priority", ""),
        )
        await self.hub.flush()  # StasisEnd came first in recorded traffic
        return web.Response(status=204)

    async def record(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        live = self.pbx.record(request.match_info["id"], params)
        body = live.to_json()
        await self._settle()
        location = "/ari/recordings/live/" + urllib.parse.quote(live.name, safe="")
        return web.json_response(body, status=201, headers={"Location": location})

    async def external_media(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        body = await self.pbx.external_media(params)
        # The media channel's StasisStart reaches the app before this answer.
        await self.hub.flush()
        return web.json_response(body)

    # -- playbacks and recordings --------------------------------------------

    async def get_playback(self, request: web.Request) -> web.Response:
        playback = self.pbx.get_playback(request.match_info["id"])
        return web.json_response(playback.to_json())

    async def stop_playback(self, request: web.Request) -> web.Response:
        self.pbx.stop_playback(request.match_info["id"])
        await self._settle()
        return web.Response(status=204)

    async def list_stored(self, request: web.Request) -> web.Response:
        stored = self.pbx.stored_recordings.values()
        return web.json_response([s.to_json() for s in stored])

    async def get_stored(self, request: web.Request) -> web.Response:
        stored = self.pbx.stored_recording(request.match_info["name"])
        return web.json_response(stored.to_json())

    async def delete_stored(self, request: web.Request) -> web.Response:
        stored = self.pbx.stored_recording(request.match_info["name"])
        del self.pbx.stored_recordings[stored.name]
        return web.Response(status=204)

    async def stored_file(self, request: web.Request) -> web.Response:
        stored = self.pbx.stored_recording(request.match_info["name"])
        return web.Response(body=stored.wav, content_type=f"audio/{stored.format}")

    async def get_live(self, request: web.Request) -> web.Response:
        recorder = self.pbx.live_recording(request.match_info["name"])
        return web.json_response(recorder.live.to_json())

    async def stop_live(self, request: web.Request) -> web.Response:
        self.pbx.stop_recording(request.match_info["name"], cancel=False)
        await self._settle()
        return web.Response(status=204)

    async def cancel_live(self, request: web.Request) -> web.Response:
        self.pbx.stop_recording(request.match_info["name"], cancel=True)
        await self._settle()
        return web.Response(status=204)

    # -- bridges -------------------------------------------------------------

    async def list_bridges(self, request: web.Request) -> web.Response:
        return web.json_response([b.to_json() for b in self.pbx.bridges.values()])

    async def create_bridge(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        bridge = self.pbx.create_bridge(
            params.get("type", "mixing"),
            params.get("bridgeId", ""),
            params.get("name", ""),
        )
        return web.json_response(bridge.to_json())

    async def get_bridge(self, request: web.Request) -> web.Response:
        bridge = self.pbx.find_bridge(request.match_info["id"])
        return web.json_response(bridge.to_json())

    async def destroy_bridge(self, request: web.Request) -> web.Response:
        self.pbx.destroy_bridge(request.match_info["id"])
        await self.hub.flush()
        return web.Response(status=204)

    async def add_channel(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        channel_ids = [c for c in params.get("channel", "").split(",") if c]
        if not channel_ids:
            raise AriError(400, "Missing parameter channel")
        self.pbx.add_to_bridge(request.match_info["id"], channel_ids)
        await self.hub.flush()
        return web.Response(status=204)

    async def remove_channel(self, request: web.Request) -> web.Response:
        params = await read_params(request)
        self.pbx.remove_from_bridge(request.match_info["id"], params.get("channel", ""))
        await self.hub.flush()
        return web.Response(status=204)


def _hangup_cause(params: dict[str, str]) -> int:
    code, reason = params.get("reason_code"), params.get("reason")
    if code is not None and reason is not None:
        raise AriError(400, "The reason and reason_code can't both be specified")
    if reason is not None:
        if reason not in HANGUP_REASONS:
            raise AriError(400, "Invalid reason for hangup provided")
        return HANGUP_REASONS[reason]
    if code is None:
        return 16
    if not code.isdigit():
        raise AriError(400, "Invalid reason for hangup provided")
    return int(code)
