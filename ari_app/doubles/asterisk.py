"""A fake Asterisk 22 for tests and ``msp-intake demo``: ARI over real sockets.

The application under test connects to ``FakeAsterisk.url + "/ari"`` exactly as
it would to a PBX: HTTP Basic or ``api_key`` auth, the events WebSocket, and the
REST calls the intake flow uses.  Tests then ``place_call`` a ``ScriptedCaller``
whose ``Step``s press keys, speak or hang up, either at fixed times after the
call entered Stasis or when a given prompt starts playing.  The returned
``Call`` records what the app did to it (prompts played, variables set, where it
continued in the dialplan, how it ended) so tests can assert on the outcome.

Behaviour follows recorded Asterisk 22.10.1 traffic, including the parts that
surprise people: playback events that arrive before the HTTP response, no
ChannelDestroyed after StasisEnd for a dialplan call, events lost (not queued)
while the app's WebSocket is down, and ``Stasis()`` falling through to the
dialplan with ``STASISSTATUS=FAILED`` when no app is connected.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable

from aiohttp import web

from .asterisk_events import EventHub
from .asterisk_media import RtpLeg
from .asterisk_model import Channel, Clock, DialplanLocation, new_uniqueid
from .asterisk_pbx import LineObserver, Pbx, PbxSettings
from .asterisk_rest import AriRoutes

__all__ = ["Call", "DialplanLocation", "FakeAsterisk", "ScriptedCaller", "Step"]

logger = logging.getLogger(__name__)

DTMF_DURATION_MS = 100
DTMF_GAP_SECONDS = 0.05


@dataclasses.dataclass(frozen=True)
class Step:
    """One thing the caller does.

    When: ``on_media`` waits for a playback whose media URI contains that text to
    start (several steps with the same text take successive plays of it); else
    ``at`` seconds after the call entered Stasis; else at once.  ``delay`` is
    added in every case.  What, in this order: ``audio`` (16 kHz s16le PCM) is
    spoken, ``dtmf`` keys are pressed one by one, ``hangup`` hangs up.
    ``before_answer`` marks a hangup meant to beat the app's answer; it fires at
    ``at`` or immediately, and the call records whether it really came first.
    """

    dtmf: str | None = None
    hangup: bool = False
    audio: bytes | None = None
    on_media: str | None = None
    at: float | None = None
    delay: float = 0.0
    before_answer: bool = False


@dataclasses.dataclass
class ScriptedCaller:
    """Who calls, what they dialled, and their script."""

    caller_number: str = ""
    caller_name: str = ""
    dialed: str = "5551000"
    technology: str = "PJSIP"
    steps: list[Step] = dataclasses.field(default_factory=list)
    channel_id: str | None = None
    endpoint: str = "caller"


class Call(LineObserver):
    """One placed call and everything the app did to it."""

    def __init__(
        self,
        channel: Channel,
        caller: ScriptedCaller,
        flush: Callable[[], Awaitable[None]],
    ) -> None:
        self.caller = caller
        self._flush = flush
        self._channel = channel
        self.channel_id = channel.id
        self.creationtime = channel.creationtime
        self.continued_to: DialplanLocation | None = None
        self.playbacks: list[str] = []
        self.variables: dict[str, str] = {}
        self.hangup_cause: int | None = None
        self.hung_up_by: str | None = None
        self.answered_before_hangup: bool | None = None
        self._ended = asyncio.Event()
        self._media_waits: list[tuple[str, asyncio.Future[None]]] = []

    @property
    def stasis_status(self) -> str | None:
        """``""`` while in Stasis, then ``SUCCESS``; ``FAILED`` if it never got in."""
        return self._channel.variables.get("STASISSTATUS")

    @property
    def ended(self) -> bool:
        return self._ended.is_set()

    @property
    def state(self) -> str:
        return self._channel.state

    async def wait_ended(self, timeout: float = 10.0) -> None:
        """Until the call left Stasis: hangup, continue, or a failed Stasis().

        The events that ended it have been written to the app's socket by then.
        """
        await asyncio.wait_for(self._ended.wait(), timeout)
        await self._flush()

    def wait_for_media(self, fragment: str) -> asyncio.Future[None]:
        """A future that resolves when a playback containing ``fragment`` starts."""
        future = asyncio.get_running_loop().create_future()
        self._media_waits.append((fragment, future))
        return future

    # -- LineObserver --------------------------------------------------------

    def playback_started(self, media_uri: str) -> None:
        self.playbacks.append(media_uri)
        claimed: set[str] = set()
        for fragment, future in list(self._media_waits):
            if fragment in media_uri and fragment not in claimed:
                claimed.add(fragment)
                self._media_waits.remove((fragment, future))
                if not future.done():
                    future.set_result(None)

    def variable_set(self, name: str, value: str) -> None:
        self.variables[name] = value

    def left_stasis(self) -> None:
        self._ended.set()

    def continued(self, location: DialplanLocation) -> None:
        self.continued_to = location
        self._ended.set()

    def hung_up(self, cause: int, by: str) -> None:
        self.hangup_cause = cause
        self.hung_up_by = by
        self._ended.set()
        for _fragment, future in self._media_waits:
            future.cancel()
        self._media_waits.clear()


class FakeAsterisk:
    """An ARI server on 127.0.0.1 that plays scripted callers into the app."""

    def __init__(
        self,
        username: str = "msp-intake",
        password: str = "secret",
        *,
        app: str = "msp-intake",
        context: str = "msp-intake",
        utc_offset: str = "+0000",
        start_at: float | None = None,
        sound_seconds: float | Callable[[str], float] = 0.3,
        events_before_response: bool = True,
        dialplan_seconds: float | None = 1.0,
        asterisk_id: str = "02:fc:00:00:00:01",
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.app = app
        self.clock = Clock(utc_offset, start_at)
        self.hub = EventHub(self.clock, asterisk_id)
        settings = PbxSettings(
            app=app,
            context=context,
            sound_seconds=sound_seconds,
            events_before_response=events_before_response,
            dialplan_seconds=dialplan_seconds,
        )
        self.pbx = Pbx(self.hub, self.clock, settings)
        self._routes = AriRoutes(self.pbx, self.hub, (username, password), time.time())
        self._host, self._port = host, port
        self._runner: web.AppRunner | None = None
        self._names = itertools.count()
        self.calls: list[Call] = []
        self.url = ""

    # -- lifecycle -----------------------------------------------------------

    async def start(self) -> None:
        self._runner = web.AppRunner(self._routes.build_app(), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        self._port = self._runner.addresses[0][1]
        self.url = f"http://{self._host}:{self._port}"
        logger.info("fake asterisk listening on %s", self.url)

    async def stop(self) -> None:
        for socket in list(self.hub.sockets):
            await socket.close()
        await self.pbx.shutdown()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        logger.info("fake asterisk stopped")

    async def __aenter__(self) -> FakeAsterisk:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def ari_url(self) -> str:
        return self.url + "/ari"

    @property
    def port(self) -> int:
        return self._port

    # -- knobs and views for tests -------------------------------------------

    @property
    def sound_exists(self) -> Callable[[str], bool]:
        return self.pbx.sound_exists

    @sound_exists.setter
    def sound_exists(self, predicate: Callable[[str], bool]) -> None:
        self.pbx.sound_exists = predicate

    @property
    def rtp_legs(self) -> dict[str, RtpLeg]:
        """External media legs by channel id: packets sent, RTP received back."""
        return self.pbx.rtp_legs

    def channel_json(self, channel_id: str) -> dict | None:
        line = self.pbx.lines.get(channel_id)
        return line.channel.to_json() if line else None

    async def drop_websockets(self) -> None:
        """Cut every events socket without a close frame, as a network drop."""
        for socket in list(self.hub.sockets):
            self.hub.unregister(socket)
            socket.abort()
        await asyncio.sleep(0)

    # -- calls ---------------------------------------------------------------

    async def place_call(self, caller: ScriptedCaller) -> Call:
        """An inbound call reaching ``Stasis(app,inbound,${EXTEN})``."""
        channel = self._inbound_channel(caller)
        call = Call(channel, caller, self.hub.flush)
        line = self.pbx.new_line(channel, call)
        # Register prompt waits now, so no playback can slip past a step.
        waits = [
            call.wait_for_media(step.on_media) if step.on_media else None
            for step in caller.steps
        ]
        self.calls.append(call)
        if self.pbx.enter_stasis(line, ["inbound", caller.dialed]):
            for step, wait in zip(caller.steps, waits, strict=True):
                self.pbx.spawn(self._run_step(call, step, wait), f"step-{channel.id}")
        else:
            for wait in waits:
                if wait is not None:
                    wait.cancel()
        await self.hub.flush()
        return call

    def _inbound_channel(self, caller: ScriptedCaller) -> Channel:
        number = next(self._names)
        dialed = caller.dialed
        channel = Channel(
            id=caller.channel_id or new_uniqueid(),
            name="",
            state="Ring",
            creationtime=self.clock.now(),
            app=self.app,
            caller_name=caller.caller_name,
            caller_number=caller.caller_number,
            context=self.pbx.settings.context,
            exten=dialed,
            priority=2,
            app_name="Stasis",
            app_data=f"{self.app},inbound,{dialed}",
            technology=caller.technology,
        )
        if caller.technology == "PJSIP":
            channel.name = f"PJSIP/{caller.endpoint}-{number:08x}"
            channel.protocol_id = str(uuid.uuid4())
        else:
            # The dialplan half of a Local pair: already Up, connected to itself.
            channel.name = f"Local/s@sim-caller-{number:08x};1"
            channel.state = "Up"
            channel.connected_name = caller.caller_name
            channel.connected_number = caller.caller_number
        return channel

    async def _run_step(
        self, call: Call, step: Step, wait: asyncio.Future[None] | None
    ) -> None:
        if wait is not None:
            try:
                await wait
            except asyncio.CancelledError:
                return
        elif step.at is not None:
            await asyncio.sleep(step.at)
        await asyncio.sleep(step.delay)
        channel_id = call.channel_id
        if channel_id not in self.pbx.lines:
            return
        if step.audio:
            self.pbx.lines[channel_id].voice.say(step.audio)
        for digit in step.dtmf or "":
            self.pbx.caller_dtmf(channel_id, digit, DTMF_DURATION_MS)
            await asyncio.sleep(DTMF_GAP_SECONDS)
        if step.hangup and channel_id in self.pbx.lines:
            if step.before_answer:
                call.answered_before_hangup = call.state == "Up"
            self.pbx.hangup(channel_id, cause=16, by="caller")
