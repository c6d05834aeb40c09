"""The simulated PBX behind the fake Asterisk's REST and event interfaces.

``Pbx`` owns every channel, playback, recording and bridge, and produces the
events a real Asterisk 22 would, in the same order.  Its methods mutate state
and put events on the sockets synchronously; the REST layer decides whether to
flush those events before it answers, because Asterisk sends some of them
(PlaybackStarted, RecordingStarted, the media channel's StasisStart) before the
HTTP response of the request that caused them and others after it.
"""

from __future__ import annotations

import array
import asyncio
import collections
import dataclasses
import logging
import random
import uuid
from collections.abc import Callable, Coroutine
from typing import Any

from .asterisk_events import EventHub
from .asterisk_media import FRAME_SECONDS, CallerVoice, MediaPump, RtpLeg, wav_8k
from .asterisk_model import (
    AriError,
    Bridge,
    Channel,
    Clock,
    DialplanLocation,
    LiveRecording,
    Playback,
    StoredRecording,
    new_uniqueid,
)

logger = logging.getLogger(__name__)

CHANNEL_NOT_FOUND = "Channel not found"
NOT_IN_STASIS = "Channel not in Stasis application"
CAUSE_TEXT = {
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
}
# ARI DELETE /channels goes through a soft hangup; this is that flag, not Q.850.
SOFTHANGUP_EXPLICIT = 32
TERMINATE_ON = ("none", "any", "*", "#")
IF_EXISTS = ("fail", "overwrite", "append")


class LineObserver:
    """What a scripted caller wants to hear about its own channel."""

    def playback_started(self, media_uri: str) -> None: ...

    def variable_set(self, name: str, value: str) -> None: ...

    def left_stasis(self) -> None: ...

    def continued(self, location: DialplanLocation) -> None: ...

    def hung_up(self, cause: int, by: str) -> None: ...


@dataclasses.dataclass
class Line:
    """Runtime state of one channel beyond what its JSON shows."""

    channel: Channel
    observer: LineObserver
    voice: CallerVoice
    pump: MediaPump
    queue: collections.deque[Playback] = dataclasses.field(
        default_factory=collections.deque
    )
    current: Playback | None = None
    timer: asyncio.Task | None = None
    recording: Recorder | None = None
    rtp: RtpLeg | None = None


@dataclasses.dataclass
class Recorder:
    """A live recording and the audio it has captured so far."""

    live: LiveRecording
    audio: bytearray = dataclasses.field(default_factory=bytearray)
    frames: int = 0
    speech_frames: int = 0
    silence_run: int = 0
    timer: asyncio.Task | None = None


@dataclasses.dataclass
class PbxSettings:
    app: str = "msp-intake"
    context: str = "msp-intake"
    sound_seconds: float | Callable[[str], float] = 0.3
    events_before_response: bool = True
    dialplan_seconds: float | None = 1.0


class Pbx:
    """Channels, media and bridges, and the events they cause."""

    def __init__(self, hub: EventHub, clock: Clock, settings: PbxSettings) -> None:
        self.hub = hub
        self.clock = clock
        self.settings = settings
        self.lines: dict[str, Line] = {}
        self.playbacks: dict[str, Playback] = {}
        self.live_recordings: dict[str, Recorder] = {}
        self.stored_recordings: dict[str, StoredRecording] = {}
        self.bridges: dict[str, Bridge] = {}
        self.sound_exists: Callable[[str], bool] = _default_sound_exists
        # Every external media leg ever made, kept after hangup for assertions.
        self.rtp_legs: dict[str, RtpLeg] = {}
        self._tasks: set[asyncio.Task] = set()

    # -- bookkeeping ---------------------------------------------------------

    def spawn(self, coro: Coroutine[Any, Any, Any], what: str) -> asyncio.Task:
        task = asyncio.create_task(coro, name=what)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error(
                "fake asterisk task %s failed",
                task.get_name(),
                exc_info=task.exception(),
            )

    async def shutdown(self) -> None:
        for line in list(self.lines.values()):
            await line.pump.stop()
            if line.rtp is not None:
                line.rtp.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def channels(self) -> list[Channel]:
        return [line.channel for line in self.lines.values()]

    def new_line(self, channel: Channel, observer: LineObserver | None = None) -> Line:
        if channel.id in self.lines:
            raise AriError(409, "Channel with given unique ID already exists")
        voice = CallerVoice()
        line = Line(
            channel, observer or LineObserver(), voice, MediaPump(voice, channel.id)
        )
        self.lines[channel.id] = line
        return line

    def find(self, channel_id: str, message: str = CHANNEL_NOT_FOUND) -> Line:
        line = self.lines.get(channel_id)
        if line is None:
            raise AriError(404, message)
        return line

    def in_stasis(self, channel_id: str) -> Line:
        line = self.find(channel_id)
        if not line.channel.in_stasis:
            raise AriError(409, NOT_IN_STASIS)
        return line

    def emit(self, channel: Channel, event_type: str, **payload: Any) -> None:
        """Send a channel event, if the app currently follows this channel."""
        if channel.subscribed:
            self.hub.emit(channel.app, event_type, **payload, channel=channel.to_json())

    # -- entering and leaving Stasis -----------------------------------------

    def enter_stasis(self, line: Line, args: list[str]) -> bool:
        """Run ``Stasis(app,args)``; False when the app has no live socket."""
        channel = line.channel
        channel.variables["STASISSTATUS"] = ""
        if not self.hub.is_active(channel.app):
            # Asterisk logs "Stasis app ... doesn't exist" and moves on.
            channel.variables["STASISSTATUS"] = "FAILED"
            logger.info("Stasis app %s not active for %s", channel.app, channel.id)
            self._go_on_in_dialplan(line, self._next_priority(channel))
            return False
        channel.in_stasis = True
        channel.subscribed = True
        self.emit(channel, "StasisStart", args=list(args))
        return True

    def _next_priority(self, channel: Channel) -> DialplanLocation:
        return DialplanLocation(channel.context, channel.exten, channel.priority + 1)

    def _leave_stasis(self, line: Line) -> None:
        channel = line.channel
        if not channel.in_stasis:
            return
        self.emit(channel, "StasisEnd")
        channel.in_stasis = False
        channel.variables["STASISSTATUS"] = "SUCCESS"
        if channel.originated:
            # Originated channels stay subscribed, hence they see this varset.
            self.emit(
                channel, "ChannelVarset", variable="STASISSTATUS", value="SUCCESS"
            )
        else:
            # Dialplan-entered channels are unsubscribed right at StasisEnd, so
            # the app never hears their ChannelDestroyed.
            channel.subscribed = False
        line.observer.left_stasis()

    def continue_in_dialplan(
        self, channel_id: str, context: str, extension: str, priority: str
    ) -> None:
        line = self.in_stasis(channel_id)
        channel = line.channel
        try:
            number = int(priority) if priority else channel.priority + 1
        except ValueError as exc:
            raise AriError(400, "Invalid priority specified") from exc
        location = DialplanLocation(
            context or channel.context, extension or channel.exten, number
        )
        self._stop_media(line, "failed")
        self._leave_bridge(line)
        self._leave_stasis(line)
        self._go_on_in_dialplan(line, location)

    def _go_on_in_dialplan(self, line: Line, location: DialplanLocation) -> None:
        channel = line.channel
        channel.context, channel.exten, channel.priority = location
        channel.app_name = channel.app_data = ""
        line.observer.continued(location)
        if self.settings.dialplan_seconds is not None:
            self.spawn(self._dialplan_hangup(channel.id), f"dialplan-{channel.id}")

    async def _dialplan_hangup(self, channel_id: str) -> None:
        await asyncio.sleep(self.settings.dialplan_seconds or 0)
        if channel_id in self.lines:
            self.hangup(channel_id, cause=16, by="dialplan")

    # -- hangup --------------------------------------------------------------

    def hangup(self, channel_id: str, cause: int = 16, by: str = "app") -> None:
        line = self.find(channel_id)
        channel = line.channel
        if by == "app":
            self.emit(
                channel, "ChannelHangupRequest", cause=SOFTHANGUP_EXPLICIT, soft=True
            )
        elif by == "caller":
            self._caller_hangup_request(channel)
        self._stop_media(line, "failed")
        self._leave_bridge(line)
        self._leave_stasis(line)
        if channel.originated:
            channel.app_name, channel.app_data = "AppDial2", "(Outgoing Line)"
            self.emit(
                channel,
                "ChannelDestroyed",
                cause=cause,
                cause_txt=CAUSE_TEXT.get(cause, "Unknown"),
            )
        del self.lines[channel_id]
        self.spawn(line.pump.stop(), f"pump-stop-{channel_id}")
        if line.rtp is not None:
            line.rtp.close()
        line.observer.hung_up(cause, by)
        logger.info("channel %s hung up by %s, cause %s", channel_id, by, cause)

    def _caller_hangup_request(self, channel: Channel) -> None:
        if channel.technology != "PJSIP":
            self.emit(channel, "ChannelHangupRequest", cause=16)
            return
        # A SIP BYE: chan_pjsip reports RTP statistics first, and the
        # ChannelHangupRequest it raises carries no cause at all.
        for name, value in _rtp_qos_values().items():
            self.emit(channel, "ChannelVarset", variable=name, value=value)
        self.emit(channel, "ChannelHangupRequest")

    def _stop_media(self, line: Line, playback_state: str) -> None:
        if line.timer is not None:
            line.timer.cancel()
            line.timer = None
        current, line.current = line.current, None
        if current is not None:
            self._finish_playback(current, playback_state)
        # Playbacks still waiting behind it never start.
        for queued in line.queue:
            self.playbacks.pop(queued.id, None)
        line.queue.clear()
        if line.recording is not None:
            self._finish_recording(line, "done")

    # -- answer and variables ------------------------------------------------

    def answer(self, channel_id: str) -> None:
        line = self.in_stasis(channel_id)
        self._mark_up(line.channel)

    def _mark_up(self, channel: Channel) -> None:
        if channel.state != "Up":
            channel.state = "Up"
            self.emit(channel, "ChannelStateChange")

    def set_variable(self, channel_id: str, name: str, value: str) -> None:
        if not name:
            raise AriError(400, "Variable name is required")
        line = self.in_stasis(channel_id)
        line.channel.variables[name] = value
        self.emit(line.channel, "ChannelVarset", variable=name, value=value)
        line.observer.variable_set(name, value)

    def get_variable(self, channel_id: str, name: str) -> str:
        if not name:
            raise AriError(400, "Variable name is required")
        channel = self.find(channel_id, "Provided channel was not found").channel
        builtins = {
            "CALLERID(num)": channel.caller_number,
            "CALLERID(name)": channel.caller_name,
            "CHANNEL(name)": channel.name,
            "UNIQUEID": channel.id,
            "EXTEN": channel.exten,
        }
        if name in builtins:
            return builtins[name]
        if name not in channel.variables:
            raise AriError(404, "Provided variable was not found")
        return channel.variables[name]

    # -- DTMF from the caller ------------------------------------------------

    def caller_dtmf(self, channel_id: str, digit: str, duration_ms: int) -> None:
        line = self.lines.get(channel_id)
        if line is None:
            return
        # Keys never stop a playback by themselves: barge-in is the app's job.
        self.emit(
            line.channel, "ChannelDtmfReceived", digit=digit, duration_ms=duration_ms
        )
        recorder = line.recording
        if recorder is not None and recorder.live.terminate_on in ("any", digit):
            self._finish_recording(line, "done")

    # -- playbacks -----------------------------------------------------------

    def play(
        self, channel_id: str, media: list[str], playback_id: str, language: str
    ) -> Playback:
        line = self.in_stasis(channel_id)
        if not media:
            raise AriError(500, "Failed to queue media for playback")
        playback = Playback(
            id=playback_id or str(uuid.uuid4()),
            media=media,
            target_uri=f"channel:{channel_id}",
            language=language or line.channel.language,
        )
        self.playbacks[playback.id] = playback
        line.queue.append(playback)
        if line.current is None:
            self._next_playback(line)
        return playback

    def _next_playback(self, line: Line) -> None:
        while line.current is None and line.queue:
            playback = line.queue.popleft()
            line.current = playback
            playback.state = "playing"
            self._emit_playback("PlaybackStarted", playback)
            self._play_uri(line, playback)

    def _play_uri(self, line: Line, playback: Playback) -> None:
        """Start the current URI: it plays, fails at once, or never ends."""
        uri = playback.media_uri
        line.observer.playback_started(uri)
        outcome = self._media_outcome(uri)
        if outcome == "missing":
            self._uri_done(line, playback, ok=False)
        elif outcome == "plays":
            seconds = self._sound_seconds(uri)
            line.timer = self.spawn(
                self._play_for(line, playback, seconds), f"playback-{playback.id}"
            )
        # An unknown scheme: Asterisk sends PlaybackStarted and nothing else.

    def _media_outcome(self, uri: str) -> str:
        scheme, _, name = uri.partition(":")
        if scheme == "sound":
            return "plays" if self.sound_exists(name) else "missing"
        if scheme == "recording":
            return "plays" if name in self.stored_recordings else "silent"
        if scheme in ("tone", "digits", "number", "characters"):
            return "plays"
        return "silent"

    def _sound_seconds(self, uri: str) -> float:
        seconds = self.settings.sound_seconds
        return seconds(uri) if callable(seconds) else seconds

    async def _play_for(self, line: Line, playback: Playback, seconds: float) -> None:
        await asyncio.sleep(seconds)
        line.timer = None
        self._uri_done(line, playback, ok=True)

    def _uri_done(self, line: Line, playback: Playback, ok: bool) -> None:
        if ok and playback.index + 1 < len(playback.media):
            playback.index += 1
            playback.state = "continuing"
            self._emit_playback("PlaybackContinuing", playback)
            playback.state = "playing"
            self._play_uri(line, playback)
            return
        line.current = None
        self._finish_playback(playback, "done" if ok else "failed")
        self._next_playback(line)

    def _finish_playback(self, playback: Playback, state: str) -> None:
        playback.state = state
        self.playbacks.pop(playback.id, None)
        self._emit_playback("PlaybackFinished", playback)

    def _emit_playback(self, event_type: str, playback: Playback) -> None:
        line = self.lines.get(playback.target_uri.partition(":")[2])
        if line is not None and line.channel.subscribed:
            self.hub.emit(line.channel.app, event_type, playback=playback.to_json())

    def get_playback(self, playback_id: str) -> Playback:
        playback = self.playbacks.get(playback_id)
        if playback is None:
            raise AriError(404, "Playback not found")
        return playback

    def stop_playback(self, playback_id: str) -> None:
        playback = self.get_playback(playback_id)
        line = self.lines[playback.target_uri.partition(":")[2]]
        if line.current is playback:
            if line.timer is not None:
                line.timer.cancel()
                line.timer = None
            line.current = None
            self._finish_playback(playback, "done")
            self._next_playback(line)
        else:
            line.queue.remove(playback)
            self._finish_playback(playback, "done")

    # -- recordings ----------------------------------------------------------

    def record(self, channel_id: str, params: dict[str, str]) -> LiveRecording:
        line = self.in_stasis(channel_id)
        live = self._new_recording(channel_id, params)
        if live.name in self.live_recordings:
            raise AriError(409, "Recording with the same name already exists")
        stored = self.stored_recordings.get(live.name)
        if stored is not None and params.get("ifExists", "fail") == "fail":
            raise AriError(409, "Recording with the same name already exists")
        # Recording answers the channel, as Asterisk's record command does.
        self._mark_up(line.channel)
        if line.channel.bridge_id is not None:
            live.state, live.cause = "failed", "Cannot record channel while in bridge"
            self._emit_recording("RecordingFailed", line, live)
            return live
        recorder = Recorder(live)
        if stored is not None and params.get("ifExists") == "append":
            recorder.audio.extend(_pcm_of(stored.wav))
        live.state = "recording"
        line.recording = recorder
        self.live_recordings[live.name] = recorder
        self._emit_recording("RecordingStarted", line, live)
        line.pump.add(
            ("record", live.name),
            lambda frame, speech: self._capture(line, frame, speech),
        )
        if live.max_duration > 0:
            recorder.timer = self.spawn(
                self._record_for(line, recorder, live.max_duration),
                f"recording-{live.name}",
            )
        return live

    def _new_recording(self, channel_id: str, params: dict[str, str]) -> LiveRecording:
        name, fmt = params.get("name", ""), params.get("format", "")
        if not name or not fmt:
            raise AriError(400, "Recording name and format are required")
        if name.startswith("/") or ".." in name.split("/"):
            raise AriError(400, "Recording name invalid")
        terminate_on = params.get("terminateOn", "none")
        if terminate_on not in TERMINATE_ON:
            raise AriError(400, "terminateOn invalid")
        if params.get("ifExists", "fail") not in IF_EXISTS:
            raise AriError(400, "ifExists invalid")
        try:
            max_duration = int(params.get("maxDurationSeconds", "0"))
            max_silence = int(params.get("maxSilenceSeconds", "0"))
        except ValueError as exc:
            raise AriError(400, "Invalid recording limits") from exc
        if max_duration < 0 or max_silence < 0:
            raise AriError(400, "maxDurationSeconds and maxSilenceSeconds >= 0")
        if fmt != "wav":
            # The double only writes WAV; other formats are not modelled.
            raise AriError(422, f"Format {fmt} not supported by the test double")
        return LiveRecording(
            name=name,
            format=fmt,
            target_uri=f"channel:{channel_id}",
            channel_id=channel_id,
            max_duration=max_duration,
            max_silence=max_silence,
            terminate_on=terminate_on,
        )

    def _capture(self, line: Line, frame: bytes, speech: bool) -> None:
        recorder = line.recording
        if recorder is None:
            return
        recorder.audio.extend(frame)
        recorder.frames += 1
        if speech:
            recorder.speech_frames += 1
            recorder.silence_run = 0
        else:
            recorder.silence_run += 1
        limit = recorder.live.max_silence
        if limit and recorder.silence_run * FRAME_SECONDS >= limit:
            self._finish_recording(line, "done", trim_silence=True)

    async def _record_for(self, line: Line, recorder: Recorder, seconds: int) -> None:
        await asyncio.sleep(seconds)
        recorder.timer = None
        if line.recording is recorder:
            self._finish_recording(line, "done")

    def _finish_recording(
        self, line: Line, state: str, trim_silence: bool = False
    ) -> None:
        recorder, line.recording = line.recording, None
        if recorder is None:
            return
        live = recorder.live
        line.pump.remove(("record", live.name))
        if recorder.timer is not None:
            recorder.timer.cancel()
        self.live_recordings.pop(live.name, None)
        frames = recorder.frames
        if trim_silence:
            # Asterisk trims the silence that ended the recording.
            frames -= recorder.silence_run
            del recorder.audio[frames * 640 :]
        live.state = state
        live.duration = int(frames * FRAME_SECONDS)
        live.talking_duration = min(
            live.duration, int(recorder.speech_frames * FRAME_SECONDS)
        )
        if state == "done":
            self.stored_recordings[live.name] = StoredRecording(
                live.name, live.format, wav_8k(bytes(recorder.audio))
            )
        self._emit_recording("RecordingFinished", line, live)

    def _emit_recording(self, event_type: str, line: Line, live: LiveRecording) -> None:
        if line.channel.subscribed:
            self.hub.emit(line.channel.app, event_type, recording=live.to_json())

    def live_recording(self, name: str) -> Recorder:
        recorder = self.live_recordings.get(name)
        if recorder is None:
            raise AriError(404, "Recording not found")
        return recorder

    def stop_recording(self, name: str, cancel: bool) -> None:
        recorder = self.live_recording(name)
        line = self.lines[recorder.live.channel_id]
        self._finish_recording(line, "canceled" if cancel else "done")

    def stored_recording(self, name: str) -> StoredRecording:
        stored = self.stored_recordings.get(name)
        if stored is None:
            raise AriError(404, "Recording not found")
        return stored

    # -- external media ------------------------------------------------------

    async def external_media(self, params: dict[str, str]) -> dict[str, Any]:
        app, fmt, data = params.get("app"), params.get("format"), params.get("data")
        host, port = _split_host(params.get("external_host", ""))
        if not app:
            raise AriError(400, "app cannot be empty")
        if not fmt:
            raise AriError(400, "format cannot be empty")
        if (params.get("encapsulation", "rtp"), params.get("transport", "udp")) != (
            "rtp",
            "udp",
        ):
            raise AriError(501, "The test double only models RTP over UDP")
        channel_id = params.get("channelId") or new_uniqueid()
        if channel_id in self.lines:
            raise AriError(409, "Channel with given unique ID already exists")
        leg = RtpLeg(channel_id, (host, port))
        await leg.open()
        channel = Channel(
            id=channel_id,
            name=f"UnicastRTP/{host}:{port}-0x{random.getrandbits(48):012x}",
            state="Down",
            creationtime=self.clock.now(),
            app=app,
            technology="UnicastRTP",
            app_name="AppDial2",
            app_data="(Outgoing Line)",
            subscribed=True,
            originated=True,
        )
        line = self.new_line(channel)
        line.rtp = leg
        self.rtp_legs[channel_id] = leg
        response = channel.to_json()
        response["channelvars"] = {
            "UNICASTRTP_LOCAL_ADDRESS": leg.local[0],
            "UNICASTRTP_LOCAL_PORT": str(leg.local[1]),
        }
        self._dial_media_channel(line, f"{host}:{port}/c({fmt})", data)
        return response

    def _dial_media_channel(
        self, line: Line, dialstring: str, data: str | None
    ) -> None:
        """The originate of a UnicastRTP leg into Stasis, event for event."""
        channel = line.channel
        self.hub.emit(
            channel.app,
            "Dial",
            dialstatus="",
            forward="",
            dialstring=dialstring,
            peer=channel.to_json(),
        )
        self._mark_up(channel)
        self.hub.emit(
            channel.app,
            "Dial",
            dialstatus="ANSWER",
            forward="",
            dialstring=dialstring,
            peer=channel.to_json(),
        )
        channel.app_name = "Stasis"
        channel.app_data = channel.app + (f",{data}" if data else "")
        self.emit(channel, "ChannelVarset", variable="STASISSTATUS", value="")
        channel.in_stasis = True
        self.emit(channel, "StasisStart", args=[data] if data else [])

    # -- originate -----------------------------------------------------------

    def originate(self, params: dict[str, str], channel_id: str) -> dict[str, Any]:
        """Dial ``endpoint``; the far end answers at once in this double."""
        endpoint = params.get("endpoint", "")
        if not endpoint:
            raise AriError(400, "Endpoint must be specified")
        app, extension = params.get("app", ""), params.get("extension", "")
        if not app and not extension:
            raise AriError(400, "Application or extension must be specified")
        channel_id = channel_id or params.get("channelId") or new_uniqueid()
        if channel_id in self.lines:
            raise AriError(409, "Channel with given unique ID already exists")
        name, number = _split_caller_id(params.get("callerId", ""))
        channel = Channel(
            id=channel_id,
            name=f"{endpoint}-{random.getrandbits(32):08x}",
            state="Down",
            creationtime=self.clock.now(),
            app=app or self.settings.app,
            caller_name=name,
            caller_number=number,
            technology=endpoint.partition("/")[0],
            app_name="AppDial2",
            app_data="(Outgoing Line)",
            # An app given to originate follows the channel from its birth.
            subscribed=bool(app),
            originated=True,
        )
        line = self.new_line(channel)
        body = channel.to_json()
        args = [a for a in params.get("appArgs", "").split(",") if a]
        self.spawn(self._far_end_answers(line, args, params), f"dial-{channel_id}")
        return body

    async def _far_end_answers(
        self, line: Line, args: list[str], params: dict[str, str]
    ) -> None:
        await asyncio.sleep(0.05)
        channel = line.channel
        if channel.id not in self.lines:
            return
        self._mark_up(channel)
        if channel.subscribed:
            channel.app_name = "Stasis"
            channel.app_data = ",".join([channel.app, *args])
            channel.in_stasis = True
            self.emit(channel, "StasisStart", args=args)
            return
        location = DialplanLocation(
            params.get("context") or self.settings.context,
            params.get("extension", "s"),
            int(params.get("priority") or 1),
        )
        self._go_on_in_dialplan(line, location)

    # -- bridges -------------------------------------------------------------

    def create_bridge(self, types: str, bridge_id: str, name: str) -> Bridge:
        bridge_id = bridge_id or str(uuid.uuid4())
        if bridge_id in self.bridges:
            raise AriError(409, "Bridge with the same bridgeId already exists")
        kind = "holding" if "holding" in types.split(",") else "mixing"
        bridge = Bridge(bridge_id, kind, self.clock.now(), name=name)
        self.bridges[bridge_id] = bridge
        return bridge

    def find_bridge(self, bridge_id: str) -> Bridge:
        bridge = self.bridges.get(bridge_id)
        if bridge is None:
            raise AriError(404, "Bridge not found")
        return bridge

    def add_to_bridge(self, bridge_id: str, channel_ids: list[str]) -> None:
        bridge = self.find_bridge(bridge_id)
        lines = [self._bridgeable(channel_id) for channel_id in channel_ids]
        for line in lines:
            if line.channel.bridge_id == bridge.id:
                continue
            self._leave_bridge(line)
            bridge.channels.append(line.channel.id)
            bridge.apps.add(line.channel.app)
            line.channel.bridge_id = bridge.id
            self.emit(line.channel, "ChannelEnteredBridge", bridge=bridge.to_json())
        if len(bridge.channels) == 2 and bridge.bridge_type == "mixing":
            self._introduce_peers(*(self.lines[c] for c in bridge.channels))
        self._rewire(bridge)

    def _bridgeable(self, channel_id: str) -> Line:
        line = self.lines.get(channel_id)
        if line is None:
            raise AriError(400, CHANNEL_NOT_FOUND)
        if not line.channel.in_stasis:
            raise AriError(422, NOT_IN_STASIS)
        if line.recording is not None:
            raise AriError(409, "Channel currently recording")
        return line

    def _introduce_peers(self, first: Line, second: Line) -> None:
        a, b = first.channel, second.channel
        for this, peer in ((a, b), (b, a)):
            this.variables["BRIDGEPEER"] = peer.name
            self.emit(this, "ChannelVarset", variable="BRIDGEPEER", value=peer.name)
        a_id = (a.caller_name, a.caller_number)
        a.connected_name, a.connected_number = b.caller_name, b.caller_number
        b.connected_name, b.connected_number = a_id
        self.emit(b, "ChannelConnectedLine")
        self.emit(a, "ChannelConnectedLine")

    def remove_from_bridge(self, bridge_id: str, channel_id: str) -> None:
        bridge = self.find_bridge(bridge_id)
        line = self.lines.get(channel_id)
        if line is None:
            raise AriError(400, CHANNEL_NOT_FOUND)
        if line.channel.bridge_id != bridge.id:
            raise AriError(422, "Channel not in this bridge")
        self._leave_bridge(line)

    def _leave_bridge(self, line: Line) -> None:
        channel = line.channel
        bridge = self.bridges.get(channel.bridge_id or "")
        if bridge is None:
            return
        channel.variables["BRIDGEPEER"] = ""
        self.emit(channel, "ChannelVarset", variable="BRIDGEPEER", value="")
        bridge.channels.remove(channel.id)
        channel.bridge_id = None
        self.emit(channel, "ChannelLeftBridge", bridge=bridge.to_json())
        self._rewire(bridge)

    def destroy_bridge(self, bridge_id: str) -> None:
        bridge = self.find_bridge(bridge_id)
        for channel_id in list(bridge.channels):
            self._leave_bridge(self.lines[channel_id])
        del self.bridges[bridge_id]
        for app in sorted(bridge.apps):
            self.hub.emit(app, "BridgeDestroyed", bridge=bridge.to_json())

    def _rewire(self, bridge: Bridge) -> None:
        """Let every talker in a mixing bridge be heard by its media legs."""
        members = [self.lines[c] for c in bridge.channels if c in self.lines]
        legs = [m for m in members if m.rtp is not None]
        talkers = [m for m in members if m.rtp is None]
        wanted: set[tuple[str, str]] = set()
        if bridge.bridge_type == "mixing":
            wanted = {(t.channel.id, g.channel.id) for t in talkers for g in legs}
        for talker_id, leg_id in bridge.wires - wanted:
            if talker_id in self.lines:
                self.lines[talker_id].pump.remove(("rtp", leg_id))
        for talker_id, leg_id in wanted - bridge.wires:
            leg = self.lines[leg_id].rtp
            self.lines[talker_id].pump.add(("rtp", leg_id), leg.send_frame)
        bridge.wires = wanted

    # -- applications --------------------------------------------------------

    def application(self, name: str) -> dict[str, Any]:
        if name not in self.hub.apps:
            raise AriError(404, "Application does not exist.")
        channel_ids = [
            line.channel.id
            for line in self.lines.values()
            if line.channel.in_stasis and line.channel.app == name
        ]
        bridge_ids = [b.id for b in self.bridges.values() if name in b.apps]
        return {
            "name": name,
            "channel_ids": channel_ids,
            "bridge_ids": bridge_ids,
            "endpoint_ids": [],
            "device_names": [],
            "events_allowed": [],
            "events_disallowed": [],
        }

    def applications(self) -> list[dict[str, Any]]:
        listed = []
        for name in self.hub.apps:
            entry = self.application(name)
            # The registry forgets an app once it has neither socket nor channels.
            if self.hub.is_active(name) or entry["channel_ids"]:
                listed.append(entry)
        return listed


def _default_sound_exists(name: str) -> bool:
    return "no-such" not in name


def _split_caller_id(text: str) -> tuple[str, str]:
    """``Dana <+15552010101>`` as (name, number); a bare number has no name."""
    if "<" in text and text.endswith(">"):
        name, _, number = text[:-1].partition("<")
        return name.strip().strip('"'), number.strip()
    return "", text.strip()


def _split_host(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise AriError(400, "external_host must be <host>:<port>")
    return host, int(port)


def _pcm_of(wav: bytes) -> bytes:
    """The 16 kHz samples of a stored 8 kHz WAV, for ifExists=append."""
    samples = array.array("h", wav[44:])
    doubled = array.array("h")
    for sample in samples:
        doubled.extend((sample, sample))
    return doubled.tobytes()


def _rtp_qos_values() -> dict[str, str]:
    return {
        "RTPAUDIOQOS": f"ssrc={random.getrandbits(31)};lp=0;rxjitter=0.001;rtt=0.0",
        "RTPAUDIOQOSJITTER": "minrxjitter=000.000000;maxrxjitter=000.001000;",
        "RTPAUDIOQOSLOSS": "minrxlost=000.000000;maxrxlost=000.000000;",
        "RTPAUDIOQOSRTT": "minrtt=000.000000;maxrtt=000.000300;",
        "RTPAUDIOQOSMES": "minrxmes=088.000000;maxrxmes=088.000000;",
    }
