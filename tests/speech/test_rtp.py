"""RTP from external media: parsing, byte order and the path into the recognizer."""

import asyncio
import socket
import struct

import numpy
import pytest

from ari_app.speech import rtp
from ari_app.speech.session import CallSpeech

from .conftest import dominant_frequency, tone


def big_endian_packets(pcm_le, sequence=100, payload_type=118):
    """What Asterisk sends: 640-byte slin16 payloads in network byte order."""
    be = numpy.frombuffer(pcm_le, dtype="<i2").astype(">i2").tobytes()
    for index, offset in enumerate(range(0, len(be), rtp.FRAME_BYTES)):
        header = struct.pack(
            "!BBHII", 0x80, payload_type, sequence + index, 320 * index, 0x1234
        )
        yield header + be[offset : offset + rtp.FRAME_BYTES]


def test_parse_reads_header_and_payload():
    data = next(big_endian_packets(bytes(640)))
    packet = rtp.parse_packet(data)
    assert (packet.payload_type, packet.sequence, len(packet.payload)) == (
        118,
        100,
        640,
    )
    assert rtp.parse_packet(b"\x00" * 20) is None  # not version 2
    assert rtp.parse_packet(b"\x80\x76") is None  # too short
    assert rtp.parse_packet(packet.pack()) == packet


async def send_udp(address, packets):
    host, port = address.rsplit(":", 1)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for data in packets:
            sender.sendto(data, (host, int(port)))
            await asyncio.sleep(0.001)


async def test_big_endian_tone_arrives_little_endian():
    received = []
    endpoint = await rtp.RtpEndpoint.open(lambda pcm, at: received.append(pcm))
    try:
        sent = tone(440, 0.4)
        packets = list(big_endian_packets(sent))
        await send_udp(endpoint.address, packets)
        await asyncio.sleep(0.1)
    finally:
        endpoint.close()
    assert b"".join(received) == sent
    assert endpoint.stats.received == len(packets)


async def test_other_payload_types_and_gaps_are_counted():
    received = []
    endpoint = await rtp.RtpEndpoint.open(lambda pcm, at: received.append(pcm))
    try:
        packets = list(big_endian_packets(tone(300, 0.1)))
        ulaw = next(big_endian_packets(bytes(160), payload_type=0))
        await send_udp(endpoint.address, [packets[0], ulaw, *packets[2:]])
        await asyncio.sleep(0.1)
    finally:
        endpoint.close()
    assert endpoint.stats.ignored == 1
    assert endpoint.stats.lost == 1
    assert len(received) == len(packets) - 1


class FedAudioListener:
    """A stand-in for a recognizer that keeps what it is fed, to check the audio."""

    def __init__(self):
        self.pcm = bytearray()

    async def feed(self, pcm):
        self.pcm.extend(pcm)


class ComponentStub:
    """Only what CallSpeech reads from the speech component."""

    class settings:
        rtp_host = "127.0.0.1"

    pool = None


async def test_tone_sent_as_big_endian_rtp_reaches_the_recognizer_as_that_tone():
    session = CallSpeech(ComponentStub(), None, "chan-1", None, None)
    listener = FedAudioListener()
    session._listener = listener
    session.endpoint = await rtp.RtpEndpoint.open(session.audio_in, label="chan-1")
    session._pump_task = asyncio.create_task(session._pump())
    try:
        sent = tone(1000, 0.5)
        await send_udp(session.endpoint.address, big_endian_packets(sent))
        await asyncio.sleep(0.2)
    finally:
        await session.close()
    assert bytes(listener.pcm) == sent
    assert dominant_frequency(bytes(listener.pcm)) == pytest.approx(1000, abs=5)
    # Left in network order the same bytes would not be a 1 kHz tone.
    unswapped = numpy.frombuffer(bytes(listener.pcm), "<i2").byteswap().tobytes()
    assert dominant_frequency(unswapped) != pytest.approx(1000, abs=50)


async def test_a_call_that_falls_behind_drops_its_oldest_audio():
    session = CallSpeech(ComponentStub(), None, "chan-2", None, None)
    for _ in range(180):  # 3.6 s with nobody taking it
        session.audio_in(bytes(640), 0.0)
    assert session.stats.dropped == 30
    assert len(session._frames) == 150


async def test_audio_sent_back_is_paced_big_endian_rtp():
    received = []
    listener = await rtp.RtpEndpoint.open(lambda pcm, at: received.append((pcm, at)))
    sender = await rtp.RtpEndpoint.open(lambda pcm, at: None)
    try:
        host, port = listener.address.rsplit(":", 1)
        sent = tone(500, 0.2)  # ten 20 ms frames
        await sender.send_audio(sent, (host, int(port)))
        await asyncio.sleep(0.05)
    finally:
        listener.close()
        sender.close()
    assert b"".join(pcm for pcm, _ in received) == sent
    spread = received[-1][1] - received[0][1]
    assert 0.15 <= spread <= 0.3  # real time, not a burst
