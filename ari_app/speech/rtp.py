"""The UDP end of ARI external media: RTP from Asterisk in, RTP back out.

Asterisk sends the caller's audio to this endpoint (on 127.0.0.1) as RTP with
payload type 118: slin16, 640 bytes per 20 ms packet, samples in network byte
order (big-endian). The endpoint swaps them to little-endian and hands each
packet's PCM to the call's speech session; it never blocks the event loop.
It can also send audio back, paced at 20 ms, to where Asterisk expects it.
"""

import asyncio
import dataclasses
import logging
import random
import struct
import time

from . import audio

logger = logging.getLogger(__name__)

SLIN16_PAYLOAD_TYPE = 118
FRAME_BYTES = 640  # 20 ms of 16 kHz 16-bit mono
FRAME_SAMPLES = FRAME_BYTES // 2
FRAME_SECONDS = 0.02
_HEADER = struct.Struct("!BBHII")


@dataclasses.dataclass(frozen=True)
class RtpPacket:
    payload_type: int
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes
    marker: bool = False

    def pack(self):
        second = (0x80 if self.marker else 0) | self.payload_type
        header = _HEADER.pack(0x80, second, self.sequence, self.timestamp, self.ssrc)
        return header + self.payload


def parse_packet(data):
    """An RtpPacket, or None for anything that is not RTP version 2."""
    if len(data) < _HEADER.size:
        return None
    first, second, sequence, timestamp, ssrc = _HEADER.unpack_from(data)
    if first >> 6 != 2:
        return None
    offset = _HEADER.size + 4 * (first & 0x0F)  # CSRC list
    if first & 0x10:  # header extension: 4 bytes, then its length in words
        if len(data) < offset + 4:
            return None
        (words,) = struct.unpack_from("!H", data, offset + 2)
        offset += 4 + 4 * words
    end = len(data)
    if first & 0x20:  # padding: the last byte says how much
        end -= data[-1]
    if offset > end:
        return None
    return RtpPacket(
        second & 0x7F, sequence, timestamp, ssrc, data[offset:end], bool(second & 0x80)
    )


@dataclasses.dataclass
class RtpStats:
    received: int = 0
    ignored: int = 0  # not RTP, or not slin16
    lost: int = 0  # sequence gaps


class RtpEndpoint(asyncio.DatagramProtocol):
    """One call's UDP socket for external media.

    ``on_audio(pcm, arrived)`` gets little-endian PCM and the monotonic arrival
    time of each slin16 packet.
    """

    def __init__(self, on_audio, label=""):
        self.on_audio = on_audio
        self.label = label  # the caller's channel id, for logs
        self.stats = RtpStats()
        self.transport = None
        self.peer = None  # where Asterisk's RTP comes from
        self._expected_sequence = None
        self._sequence = random.randrange(1 << 16)
        self._timestamp = random.randrange(1 << 32)
        self._ssrc = random.randrange(1 << 32)

    @classmethod
    async def open(cls, on_audio, host="127.0.0.1", label=""):
        loop = asyncio.get_running_loop()
        _, endpoint = await loop.create_datagram_endpoint(
            lambda: cls(on_audio, label), local_addr=(host, 0)
        )
        return endpoint

    @property
    def address(self):
        """``host:port`` for externalMedia's ``external_host``."""
        host, port = self.transport.get_extra_info("sockname")[:2]
        return f"{host}:{port}"

    def connection_made(self, transport):
        self.transport = transport

    def datagram_received(self, data, addr):
        packet = parse_packet(data)
        if packet is None or packet.payload_type != SLIN16_PAYLOAD_TYPE:
            self.stats.ignored += 1
            return
        if self.peer is None:
            self.peer = addr
            logger.debug("channel %s: first RTP from %s:%s", self.label, *addr[:2])
        self._count(packet.sequence)
        self.on_audio(audio.big_to_little(packet.payload), time.monotonic())

    def _count(self, sequence):
        self.stats.received += 1
        if self._expected_sequence is not None:
            gap = (sequence - self._expected_sequence) & 0xFFFF
            if 0 < gap < 1000:
                self.stats.lost += gap
        self._expected_sequence = (sequence + 1) & 0xFFFF

    def error_received(self, exc):
        logger.warning("channel %s: external media socket error: %s", self.label, exc)

    def send_frame(self, pcm, address=None):
        """Send one 20 ms frame of little-endian PCM to Asterisk, as big-endian."""
        target = address or self.peer
        if target is None or self.transport is None:
            return False
        packet = RtpPacket(
            SLIN16_PAYLOAD_TYPE,
            self._sequence,
            self._timestamp,
            self._ssrc,
            audio.little_to_big(pcm),
        )
        self.transport.sendto(packet.pack(), target)
        self._sequence = (self._sequence + 1) & 0xFFFF
        self._timestamp = (self._timestamp + len(pcm) // 2) & 0xFFFFFFFF
        return True

    async def send_audio(self, pcm, address=None):
        """Send PCM as real-time 20 ms packets (Asterisk does no pacing for us)."""
        start = time.monotonic()
        for index, offset in enumerate(range(0, len(pcm), FRAME_BYTES)):
            frame = pcm[offset : offset + FRAME_BYTES].ljust(FRAME_BYTES, b"\0")
            self.send_frame(frame, address)
            delay = start + (index + 1) * FRAME_SECONDS - time.monotonic()
            await asyncio.sleep(max(delay, 0))

    def close(self):
        if self.transport is not None:
            self.transport.close()
