"""External media in the fake Asterisk: UnicastRTP legs, bridges and real RTP.

Checks the slin16 stream the way the recorded call showed it: payload type 118,
640-byte payloads every 20 ms, big-endian samples, rising sequence numbers and
timestamps; plus the event order of creating, bridging and tearing down.
"""

from __future__ import annotations

import array
import asyncio
import math
import re
import struct
import sys

from conftest import AriClient, load_fixture

from ari_app.doubles.asterisk import ScriptedCaller, Step

SEQUENCES = load_fixture("event_sequences.json")
SHAPES = load_fixture("wire_shapes.json")
RTP = SHAPES["rtp"]


class UdpSink(asyncio.DatagramProtocol):
    """Stands in for the app's speech service: collects RTP packets."""

    def __init__(self) -> None:
        self.packets: list[tuple[float, bytes]] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.packets.append((asyncio.get_running_loop().time(), data))


async def open_sink() -> tuple[UdpSink, int]:
    loop = asyncio.get_running_loop()
    transport, sink = await loop.create_datagram_endpoint(
        UdpSink, local_addr=("127.0.0.1", 0)
    )
    return sink, transport.get_extra_info("sockname")[1]


def tone_le(hertz: float, seconds: float) -> array.array:
    count = int(RTP["sample_rate"] * seconds)
    rate = RTP["sample_rate"]
    return array.array(
        "h",
        (int(9000 * math.sin(2 * math.pi * hertz * i / rate)) for i in range(count)),
    )


def decode_big_endian(payload: bytes) -> array.array:
    samples = array.array("h", payload)
    if sys.byteorder == "little":
        samples.byteswap()
    return samples


async def wait_packets(sink: UdpSink, count: int, timeout: float = 3.0) -> None:
    async def poll() -> None:
        while len(sink.packets) < count:
            await asyncio.sleep(0.01)

    await asyncio.wait_for(poll(), timeout)


async def start_media(ari: AriClient, port: int, call_id: str) -> dict:
    status, body, _ = await ari.call(
        "POST",
        "/channels/externalMedia",
        params={
            "app": "msp-intake",
            "external_host": f"127.0.0.1:{port}",
            "format": "slin16",
            "channelId": "em-1",
            "encapsulation": "rtp",
            "transport": "udp",
            "data": f"speech:{call_id}",
        },
    )
    assert status == 200
    return body


async def test_caller_tone_arrives_as_big_endian_slin16(ari: AriClient) -> None:
    stream = await ari.connect()
    tone = tone_le(1000, 0.4)
    caller = ScriptedCaller(
        caller_number="5552010101", steps=[Step(audio=tone.tobytes())]
    )
    call = await ari.fake.place_call(caller)
    await ari.call("POST", f"/channels/{call.channel_id}/answer")
    sink, port = await open_sink()

    # Creating the media leg: its StasisStart comes before the HTTP answer.
    mark = len(stream.events)
    body = await start_media(ari, port, call.channel_id)
    await asyncio.sleep(0)
    assert stream.types_since(mark) == SEQUENCES["external_media_create"]
    assert stream.events[-1]["args"] == [f"speech:{call.channel_id}"]
    assert re.match(SHAPES["media_channel_name_pattern"], body["name"])
    assert body["state"] == "Down"
    local_port = int(body["channelvars"]["UNICASTRTP_LOCAL_PORT"])
    assert body["channelvars"]["UNICASTRTP_LOCAL_ADDRESS"] == "127.0.0.1"

    # Bridging caller and media leg starts the stream.
    status, bridge, _ = await ari.call(
        "POST", "/bridges", params={"type": "mixing", "bridgeId": "br-1"}
    )
    assert status == 200 and bridge["technology"] == "simple_bridge"
    mark = len(stream.events)
    status, _, _ = await ari.call(
        "POST",
        "/bridges/br-1/addChannel",
        params={"channel": f"{call.channel_id},em-1"},
    )
    assert status == 204
    assert stream.types_since(mark) == SEQUENCES["bridge_caller_and_media"]

    wanted = len(tone) * 2 // RTP["payload_bytes"]
    await wait_packets(sink, wanted + 2)
    headers = [struct.unpack("!BBHII", data[:12]) for _, data in sink.packets]
    assert {h[0] for h in headers} == {0x80}
    assert {h[1] for h in headers} == {RTP["payload_type"]}  # marker bit clear
    assert {len(data) - 12 for _, data in sink.packets} == {RTP["payload_bytes"]}
    seqs = [h[2] for h in headers]
    stamps = [h[3] for h in headers]
    assert all((b - a) % 65536 == 1 for a, b in zip(seqs, seqs[1:], strict=False))
    assert all(
        b - a == RTP["timestamp_step"] for a, b in zip(stamps, stamps[1:], strict=False)
    )
    received = array.array("h")
    for _, data in sink.packets[:wanted]:
        received.extend(decode_big_endian(data[12:]))
    assert received == tone[: len(received)]
    span = sink.packets[wanted][0] - sink.packets[0][0]
    assert (
        0.7 * wanted * RTP["packet_seconds"]
        < span
        < 1.5 * wanted * RTP["packet_seconds"]
    )

    # RTP sent back to the advertised port is accepted.
    reply = struct.pack("!BBHII", 0x80, 118, 1, 320, 42) + bytes(640)
    sink.transport.sendto(reply, ("127.0.0.1", local_port))
    await asyncio.sleep(0.05)
    assert ari.fake.rtp_legs["em-1"].received == [bytes(640)]

    # Tear-down: the media leg, then the bridge, as in the recorded call.
    mark = len(stream.events)
    status, _, _ = await ari.call("DELETE", "/channels/em-1")
    assert status == 204
    destroyed = await stream.wait_type("ChannelDestroyed")
    assert stream.types_since(mark) == SEQUENCES["delete_media_channel"]
    assert (destroyed["cause"], destroyed["cause_txt"]) == (16, "Normal Clearing")
    mark = len(stream.events)
    status, _, _ = await ari.call("DELETE", "/bridges/br-1")
    assert status == 204
    assert stream.types_since(mark) == SEQUENCES["delete_bridge"]
    sink.transport.close()


async def test_media_channel_outlives_the_caller(ari: AriClient) -> None:
    await ari.connect()
    caller = ScriptedCaller(steps=[Step(hangup=True, at=0.2)])
    call = await ari.fake.place_call(caller)
    sink, port = await open_sink()
    await start_media(ari, port, call.channel_id)
    await ari.call("POST", "/bridges", params={"bridgeId": "br-1"})
    await ari.call(
        "POST",
        "/bridges/br-1/addChannel",
        params={"channel": f"{call.channel_id},em-1"},
    )
    await call.wait_ended(timeout=2)
    _, channels, _ = await ari.call("GET", "/channels")
    assert [c["id"] for c in channels] == ["em-1"]
    _, apps, _ = await ari.call("GET", "/applications/msp-intake")
    assert apps["channel_ids"] == ["em-1"] and apps["bridge_ids"] == ["br-1"]
    await ari.call("DELETE", "/channels/em-1")
    _, channels, _ = await ari.call("GET", "/channels")
    assert channels == []
    sink.transport.close()
