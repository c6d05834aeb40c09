"""Audio inside the fake Asterisk: the caller's voice, recordings and RTP.

A scripted caller's speech (16 kHz signed 16-bit little-endian PCM) waits in a
``CallerVoice`` until something listens: a recording, or an external media
channel bridged with the caller.  A ``MediaPump`` then hands it out in real time,
20 ms per frame, and fills the gaps with silence the way a live line would.

External media legs speak RTP like Asterisk's UnicastRTP channel with
``format=slin16``: payload type 118, 640-byte payloads every 20 ms, samples in
network byte order (big-endian), so the app has to swap them for most speech
engines.
"""

from __future__ import annotations

import array
import asyncio
import io
import logging
import random
import struct
import sys
import wave
from collections.abc import Callable

logger = logging.getLogger(__name__)

FRAME_SECONDS = 0.02
SAMPLE_RATE = 16000
FRAME_BYTES = int(SAMPLE_RATE * FRAME_SECONDS) * 2
SLIN16_PAYLOAD_TYPE = 118
_SILENCE = bytes(FRAME_BYTES)

FrameListener = Callable[[bytes, bool], None]


class CallerVoice:
    """Speech the caller has started to say, not yet heard by anyone."""

    def __init__(self) -> None:
        self._pending = bytearray()

    def say(self, pcm: bytes) -> None:
        if len(pcm) % 2:
            pcm = pcm[:-1]
        self._pending.extend(pcm)

    @property
    def has_speech(self) -> bool:
        return bool(self._pending)

    def next_frame(self) -> tuple[bytes, bool]:
        """The next 20 ms, and whether it holds speech rather than silence."""
        if not self._pending:
            return _SILENCE, False
        frame = bytes(self._pending[:FRAME_BYTES])
        del self._pending[:FRAME_BYTES]
        return frame.ljust(FRAME_BYTES, b"\0"), True


class MediaPump:
    """Delivers one channel's voice to its listeners at real-time pace."""

    def __init__(self, voice: CallerVoice, channel_id: str) -> None:
        self.voice = voice
        self.channel_id = channel_id
        self._listeners: dict[object, FrameListener] = {}
        self._task: asyncio.Task | None = None

    def add(self, key: object, listener: FrameListener) -> None:
        self._listeners[key] = listener
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run())

    def remove(self, key: object) -> None:
        self._listeners.pop(key, None)

    async def stop(self) -> None:
        self._listeners.clear()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        started = loop.time()
        ticks = 0
        while self._listeners:
            frame, speech = self.voice.next_frame()
            for listener in list(self._listeners.values()):
                listener(frame, speech)
            ticks += 1
            # Pace against the start time so a slow tick does not add drift.
            await asyncio.sleep(max(0.0, started + ticks * FRAME_SECONDS - loop.time()))
        logger.debug("media pump for %s idle", self.channel_id)


def to_big_endian(pcm_le: bytes) -> bytes:
    samples = array.array("h", pcm_le)
    if sys.byteorder == "little":
        samples.byteswap()
    return samples.tobytes()


def from_big_endian(pcm_be: bytes) -> bytes:
    # Swapping is its own inverse.
    return to_big_endian(pcm_be[: len(pcm_be) - len(pcm_be) % 2])


def wav_8k(pcm16k_le: bytes) -> bytes:
    """A WAV file as Asterisk's ``wav`` format stores it: 8 kHz, 16-bit, mono."""
    samples = array.array("h", pcm16k_le[: len(pcm16k_le) - len(pcm16k_le) % 4])
    halved = array.array(
        "h", ((samples[i] + samples[i + 1]) // 2 for i in range(0, len(samples), 2))
    )
    out = io.BytesIO()
    with wave.open(out, "wb") as writer:
        writer.setnchannels(1)
        writer.setsampwidth(2)
        writer.setframerate(8000)
        writer.writeframes(halved.tobytes())
    return out.getvalue()


class RtpLeg(asyncio.DatagramProtocol):
    """The UDP socket of one external media channel."""

    def __init__(self, channel_id: str, remote: tuple[str, int]) -> None:
        self.channel_id = channel_id
        self.remote = remote
        self.transport: asyncio.DatagramTransport | None = None
        self.local: tuple[str, int] = ("127.0.0.1", 0)
        self.sent_packets = 0
        self.received: list[bytes] = []
        self.received_audio = bytearray()
        self._ssrc = random.getrandbits(32)
        self._seq = random.getrandbits(16)
        self._timestamp = 0

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.create_datagram_endpoint(lambda: self, local_addr=("127.0.0.1", 0))

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.local = transport.get_extra_info("sockname")[:2]

    def send_frame(self, frame_le: bytes, speech: bool = True) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        self._seq = (self._seq + 1) & 0xFFFF
        self._timestamp = (self._timestamp + FRAME_BYTES // 2) & 0xFFFFFFFF
        header = struct.pack(
            "!BBHII", 0x80, SLIN16_PAYLOAD_TYPE, self._seq, self._timestamp, self._ssrc
        )
        self.transport.sendto(header + to_big_endian(frame_le), self.remote)
        self.sent_packets += 1

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if len(data) < 12 or data[0] >> 6 != 2:
            logger.debug("not RTP on %s from %s", self.channel_id, addr)
            return
        payload = data[12 + 4 * (data[0] & 0x0F) :]
        self.received.append(payload)
        self.received_audio.extend(from_big_endian(payload))

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
