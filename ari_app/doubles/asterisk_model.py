"""Objects the fake Asterisk keeps, and the JSON it shows of them.

The shapes follow what Asterisk 22 puts on the wire: optional keys are left out
rather than sent as null, ``priority`` is an integer, and every time is rendered
as ``2026-12-03T12:43:36.804+0000`` in the PBX's own UTC offset with the
milliseconds truncated.
"""

from __future__ import annotations

import dataclasses
import datetime
import itertools
import time
from typing import Any, NamedTuple

_UNIQUEID_COUNTER = itertools.count()


class AriError(Exception):
    """A REST failure the fake answers with ``{"message": ...}`` and a status."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class Clock:
    """Renders wall-clock times the way Asterisk does for one UTC offset."""

    def __init__(
        self, utc_offset: str = "+0000", start_at: float | None = None
    ) -> None:
        self.tz = _parse_offset(utc_offset)
        # A PBX whose clock reads ``start_at`` now and runs at the normal rate:
        # the demo replays a Monday morning whatever day it is run.
        self.shift = 0.0 if start_at is None else start_at - time.time()

    def now(self) -> str:
        return self.render(time.time() + self.shift)

    def render(self, epoch: float) -> str:
        moment = datetime.datetime.fromtimestamp(epoch, self.tz)
        # Asterisk prints milliseconds by truncating, never by rounding.
        millis = moment.microsecond // 1000
        return (
            moment.strftime("%Y-%m-%dT%H:%M:%S.")
            + f"{millis:03d}"
            + (moment.strftime("%z"))
        )


def _parse_offset(text: str) -> datetime.timezone:
    if len(text) != 5 or text[0] not in "+-" or not text[1:].isdigit():
        raise ValueError(f"utc_offset must look like +0000 or -0500, not {text!r}")
    minutes = int(text[1:3]) * 60 + int(text[3:5])
    sign = -1 if text[0] == "-" else 1
    return datetime.timezone(datetime.timedelta(minutes=sign * minutes))


def new_uniqueid() -> str:
    """An Asterisk-style uniqueid: creation epoch seconds and a counter."""
    return f"{int(time.time())}.{next(_UNIQUEID_COUNTER)}"


class DialplanLocation(NamedTuple):
    """Where a channel went in the dialplan; compares equal to a plain tuple."""

    context: str
    extension: str
    priority: int


@dataclasses.dataclass
class Channel:
    """One channel as the fake PBX knows it."""

    id: str
    name: str
    state: str
    creationtime: str
    app: str
    caller_name: str = ""
    caller_number: str = ""
    connected_name: str = ""
    connected_number: str = ""
    protocol_id: str = ""
    context: str = "default"
    exten: str = "s"
    priority: int = 1
    app_name: str = ""
    app_data: str = ""
    language: str = "en"
    technology: str = "Local"
    # True while the app receives this channel's events.  Inbound channels are
    # subscribed only while in Stasis; originated and media channels from birth.
    subscribed: bool = False
    in_stasis: bool = False
    originated: bool = False
    gone: bool = False
    bridge_id: str | None = None
    variables: dict[str, str] = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "state": self.state,
            "protocol_id": self.protocol_id,
            "caller": {"name": self.caller_name, "number": self.caller_number},
            "connected": {
                "name": self.connected_name,
                "number": self.connected_number,
            },
            "accountcode": "",
            "dialplan": {
                "context": self.context,
                "exten": self.exten,
                "priority": self.priority,
                "app_name": self.app_name,
                "app_data": self.app_data,
            },
            "creationtime": self.creationtime,
            "language": self.language,
        }


@dataclasses.dataclass
class Playback:
    id: str
    media: list[str]
    target_uri: str
    language: str = "en"
    state: str = "queued"
    index: int = 0

    @property
    def media_uri(self) -> str:
        return self.media[self.index]

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"id": self.id, "media_uri": self.media_uri}
        if self.index + 1 < len(self.media):
            body["next_media_uri"] = self.media[self.index + 1]
        body.update(
            target_uri=self.target_uri, language=self.language, state=self.state
        )
        return body


@dataclasses.dataclass
class LiveRecording:
    name: str
    format: str
    target_uri: str
    channel_id: str
    max_duration: int = 0
    max_silence: int = 0
    terminate_on: str = "none"
    state: str = "queued"
    duration: int | None = None
    talking_duration: int | None = None
    cause: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "format": self.format,
            "state": self.state,
            "target_uri": self.target_uri,
        }
        if self.cause is not None:
            body["cause"] = self.cause
        if self.duration is not None:
            body["duration"] = self.duration
            # Talk and silence are only measured when silence detection is on.
            if self.max_silence > 0 and self.talking_duration is not None:
                body["talking_duration"] = self.talking_duration
                body["silence_duration"] = self.duration - self.talking_duration
        return body


@dataclasses.dataclass
class StoredRecording:
    name: str
    format: str
    wav: bytes

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "format": self.format}


@dataclasses.dataclass
class Bridge:
    id: str
    bridge_type: str
    creationtime: str
    name: str = ""
    channels: list[str] = dataclasses.field(default_factory=list)
    # Apps that saw a channel of theirs in this bridge get its later events.
    apps: set[str] = dataclasses.field(default_factory=set)
    # (talker channel id, external media channel id) pairs whose audio flows.
    wires: set[tuple[str, str]] = dataclasses.field(default_factory=set)

    def to_json(self) -> dict[str, Any]:
        mixing = self.bridge_type == "mixing"
        return {
            "id": self.id,
            "technology": "simple_bridge" if mixing else "holding_bridge",
            "bridge_type": self.bridge_type,
            "bridge_class": "stasis",
            "creator": "Stasis",
            "name": self.name,
            "channels": list(self.channels),
            "creationtime": self.creationtime,
            "video_mode": "talker" if mixing else "none",
        }
