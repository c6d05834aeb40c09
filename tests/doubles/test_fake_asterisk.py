"""The fake Asterisk checked against facts recorded from Asterisk 22.10.1.

Fixtures in ``fixtures/`` hold the expected event orders, JSON keys and error
bodies; every test talks to the double over real sockets with plain aiohttp.
"""

from __future__ import annotations

import array
import asyncio
import datetime
import math
import re

import pytest
from conftest import USER, AriClient, load_fixture

from ari_app.doubles.asterisk import ScriptedCaller, Step

SEQUENCES = load_fixture("event_sequences.json")
SHAPES = load_fixture("wire_shapes.json")
ERRORS = SHAPES["errors"]
DANA = {"caller_number": "+1 (555) 201-0101", "caller_name": "Dana"}


def assert_error(status: int, body: dict, name: str) -> None:
    assert (status, body) == (ERRORS[name]["status"], ERRORS[name]["body"])


def assert_envelope(events: list[dict]) -> None:
    pattern = re.compile(SHAPES["timestamp_pattern"])
    for event in events:
        assert set(SHAPES["envelope_keys"]) <= set(event), event
        assert event["application"] == "msp-intake"
        assert pattern.match(event["timestamp"]), event["timestamp"]
        assert event["timestamp"].endswith("-0500")


# -- auth and URL rules ------------------------------------------------------


async def test_missing_or_bad_credentials_get_401(ari: AriClient) -> None:
    expected = ERRORS["unauthorised"]
    for headers in ({"Authorization": ""}, {"Authorization": "Basic bm86bm8="}):
        status, body, resp = await ari.call("GET", "/channels", headers=headers)
        assert (status, body) == (expected["status"], expected["body"])
        assert resp.headers["WWW-Authenticate"] == expected["www_authenticate"]
    status, _, _ = await ari.call(
        "GET", "/channels", params={"api_key": f"{USER}:wrong"}
    )
    assert status == 401


async def test_api_key_works_and_trailing_slash_is_404(ari: AriClient) -> None:
    params = {"api_key": "msp-intake:secret"}
    status, body, _ = await ari.call(
        "GET", "/asterisk/ping", params=params, headers={"Authorization": ""}
    )
    assert status == 200 and body["ping"] == "pong"
    status, body, _ = await ari.call("GET", "/channels/")
    assert status == 404 and "do not end with a slash" in body["message"]


async def test_events_socket_needs_app(ari: AriClient) -> None:
    status, body, _ = await ari.call("GET", "/events")
    assert status == 400 and "app" in body["message"]


# -- channel JSON --------------------------------------------------------------


async def test_pjsip_channel_json_matches_recorded_shape(ari: AriClient) -> None:
    stream = await ari.connect()
    call = await ari.fake.place_call(ScriptedCaller(**DANA, dialed="5551000"))
    start = await stream.wait_type("StasisStart")
    channel = start["channel"]
    assert sorted(channel) == SHAPES["channel_keys"]
    assert sorted(channel["dialplan"]) == SHAPES["dialplan_keys"]
    assert re.match(SHAPES["pjsip_id_pattern"], channel["id"])
    assert channel["state"] == "Ring" and channel["protocol_id"]
    assert channel["caller"] == {"name": "Dana", "number": "+1 (555) 201-0101"}
    assert channel["dialplan"] == {
        "context": "msp-intake",
        "exten": "5551000",
        "priority": 2,
        "app_name": "Stasis",
        "app_data": "msp-intake,inbound,5551000",
    }
    assert start["args"] == ["inbound", "5551000"]
    assert channel["creationtime"] == call.creationtime
    created = datetime.datetime.fromisoformat(call.creationtime)
    assert created <= datetime.datetime.fromisoformat(start["timestamp"])
    status, body, _ = await ari.call("GET", f"/channels/{call.channel_id}")
    assert status == 200 and body["creationtime"] == call.creationtime
    assert_envelope(stream.events)
    assert not any(e["type"] == "ApplicationRegistered" for e in stream.events)


# -- call flows ----------------------------------------------------------------


async def test_local_call_play_dtmf_and_caller_hangup(ari: AriClient) -> None:
    stream = await ari.connect()
    caller = ScriptedCaller(
        **DANA,
        technology="Local",
        steps=[
            Step(dtmf="1", on_media="hello-world", delay=0.05),
            Step(hangup=True, on_media="no-such", delay=0.1),
        ],
    )
    call = await ari.fake.place_call(caller)
    path = f"/channels/{call.channel_id}"
    await ari.call(
        "POST", path + "/variable", params={"variable": "MSP_TICKET", "value": "T-1"}
    )
    status, _, _ = await ari.call("POST", path + "/answer")
    assert status == 204
    # Two plays in a row: the second waits for the first.
    _, first, _ = await ari.call(
        "POST", path + "/play/pb-1", params={"media": "sound:hello-world"}
    )
    _, second, _ = await ari.call(
        "POST",
        path + "/play",
        json={"media": "sound:no-such-file-xyz", "playbackId": "pb-2"},
    )
    assert (first["state"], second["state"]) == ("playing", "queued")
    assert sorted(first) == SHAPES["playback_keys"]
    await call.wait_ended(timeout=3)
    await asyncio.sleep(0.2)  # room for a ChannelDestroyed that must not come
    assert (
        stream.types_since(0) == SEQUENCES["local_call_play_missing_dtmf_caller_hangup"]
    )
    assert stream.events[-2]["cause"] == 16
    assert call.playbacks == ["sound:hello-world", "sound:no-such-file-xyz"]
    assert call.variables == {"MSP_TICKET": "T-1"}
    assert (call.hangup_cause, call.hung_up_by) == (16, "caller")
    assert call.stasis_status == "SUCCESS"
    assert_envelope(stream.events)


async def test_pjsip_call_sequence_and_answer_state_change(ari: AriClient) -> None:
    stream = await ari.connect()
    caller = ScriptedCaller(
        **DANA,
        steps=[Step(dtmf="12#", at=0.4), Step(hangup=True, at=0.8)],
    )
    call = await ari.fake.place_call(caller)
    path = f"/channels/{call.channel_id}"
    await ari.call("POST", path + "/answer")
    await ari.call("POST", path + "/play", params={"media": "sound:hello-world"})
    await call.wait_ended(timeout=3)
    assert stream.types_since(0) == SEQUENCES["pjsip_call_answer_play_keys_bye"]
    # chan_pjsip's hangup request for a BYE carries no cause key at all.
    assert "cause" not in stream.events[-2]
    assert stream.events[1]["channel"]["state"] == "Up"
    digits = [e for e in stream.events if e["type"] == "ChannelDtmfReceived"]
    assert {e["duration_ms"] for e in digits} == {100}


async def test_events_arrive_before_the_play_response(ari: AriClient) -> None:
    stream = await ari.connect()
    call = await ari.fake.place_call(ScriptedCaller(**DANA))
    await stream.wait_type("StasisStart")
    status, body, resp = await ari.call(
        "POST",
        f"/channels/{call.channel_id}/play",
        params={"media": "sound:hello-world", "playbackId": "early-1"},
    )
    assert status == 201 and resp.headers["Location"] == "/ari/playbacks/early-1"
    await asyncio.sleep(0)
    started = [e for e in stream.events if e["type"] == "PlaybackStarted"]
    assert started and started[0]["playback"]["id"] == "early-1"
    assert body["state"] == "playing"


async def test_app_hangup_during_playback(ari: AriClient) -> None:
    stream = await ari.connect()
    call = await ari.fake.place_call(ScriptedCaller(**DANA, technology="Local"))
    path = f"/channels/{call.channel_id}"
    await ari.call("POST", path + "/play/pb-1", params={"media": "sound:hello"})
    mark = len(stream.events)
    status, _, _ = await ari.call("DELETE", path, params={"reason_code": "16"})
    assert status == 204
    await stream.wait_type("StasisEnd")
    await asyncio.sleep(0.1)
    assert stream.types_since(mark) == SEQUENCES["app_hangup_during_playback"]
    request = stream.events[mark]
    assert (request["cause"], request["soft"]) == (32, True)
    for method, suffix in (
        ("POST", "/answer"),
        ("POST", "/play"),
        ("GET", ""),
        ("DELETE", ""),
    ):
        status, body, _ = await ari.call(
            method, path + suffix, params={"media": "sound:x"}
        )
        assert_error(status, body, "channel_gone")
    status, body, _ = await ari.call("GET", "/playbacks/pb-1")
    assert_error(status, body, "playback_gone")
    assert (call.hangup_cause, call.hung_up_by) == (16, "app")


async def test_caller_hangup_during_playback_fails_it(ari: AriClient) -> None:
    stream = await ari.connect()
    caller = ScriptedCaller(**DANA, steps=[Step(hangup=True, on_media="greet")])
    call = await ari.fake.place_call(caller)
    await ari.call(
        "POST", f"/channels/{call.channel_id}/play", params={"media": "sound:greet"}
    )
    await call.wait_ended(timeout=2)
    finished = await stream.wait_type("PlaybackFinished")
    assert finished["playback"]["state"] == "failed"


async def test_keys_do_not_stop_playback_but_delete_does(ari: AriClient) -> None:
    stream = await ari.connect()
    caller = ScriptedCaller(**DANA, steps=[Step(dtmf="1", on_media="menu")])
    call = await ari.fake.place_call(caller)
    await ari.call(
        "POST",
        f"/channels/{call.channel_id}/play/menu-1",
        params={"media": "sound:menu"},
    )
    await stream.wait_type("ChannelDtmfReceived")
    status, body, _ = await ari.call("GET", "/playbacks/menu-1")
    assert status == 200 and body["state"] == "playing"
    status, _, _ = await ari.call("DELETE", "/playbacks/menu-1")
    assert status == 204
    finished = await stream.wait_type("PlaybackFinished")
    assert finished["playback"]["state"] == "done"
    status, body, _ = await ari.call("DELETE", "/playbacks/menu-1")
    assert_error(status, body, "playback_gone")


async def test_dtmf_keys_are_separate_events(ari: AriClient) -> None:
    stream = await ari.connect()
    caller = ScriptedCaller(**DANA, steps=[Step(dtmf="123#")])
    await ari.fake.place_call(caller)
    await stream.wait_for(lambda e: e.get("digit") == "#")
    digits = [e for e in stream.events if e["type"] == "ChannelDtmfReceived"]
    assert [e["digit"] for e in digits] == ["1", "2", "3", "#"]


@pytest.mark.parametrize("fake_options", [{"dialplan_seconds": 0.3}])
async def test_continue_leaves_stasis_then_409_then_gone(ari: AriClient) -> None:
    stream = await ari.connect()
    call = await ari.fake.place_call(ScriptedCaller(**DANA))
    path = f"/channels/{call.channel_id}"
    status, _, _ = await ari.call(
        "POST",
        path + "/continue",
        params={"context": "msp-intake", "extension": "5551000", "priority": "3"},
    )
    assert status == 204
    assert stream.events[-1]["type"] == "StasisEnd"  # before the 204
    assert call.continued_to == ("msp-intake", "5551000", 3)
    status, body, _ = await ari.call("POST", path + "/answer")
    assert_error(status, body, "not_in_stasis")
    status, _, _ = await ari.call("GET", path)
    assert status == 200
    await asyncio.sleep(0.4)  # the dialplan finishes and hangs up
    status, body, _ = await ari.call("GET", path)
    assert_error(status, body, "channel_gone")
    assert not any(e["type"] == "ChannelDestroyed" for e in stream.events)


async def test_duplicate_channel_id_is_409(ari: AriClient) -> None:
    await ari.connect()
    call = await ari.fake.place_call(ScriptedCaller(**DANA))
    status, body, _ = await ari.call(
        "POST",
        "/channels/externalMedia",
        params={
            "app": "msp-intake",
            "external_host": "127.0.0.1:9",
            "format": "slin16",
            "channelId": call.channel_id,
        },
    )
    assert_error(status, body, "duplicate_channel_id")


# -- WebSocket rules -------------------------------------------------------------


async def test_websocket_drop_keeps_channel_and_drops_gap_events(
    ari: AriClient,
) -> None:
    first = await ari.connect()
    caller = ScriptedCaller(**DANA, steps=[Step(dtmf="5", at=0.2)])
    call = await ari.fake.place_call(caller)
    await first.wait_type("StasisStart")
    await ari.fake.drop_websockets()
    await asyncio.sleep(0.3)  # the key press happens while nobody listens
    status, apps, _ = await ari.call("GET", "/applications")
    assert status == 200 and apps[0]["channel_ids"] == [call.channel_id]
    assert sorted(apps[0]) == SHAPES["application_keys"]
    second = await ari.connect()
    status, _, _ = await ari.call(
        "POST",
        f"/channels/{call.channel_id}/play",
        params={"media": "sound:hello-world"},
    )
    assert status == 201
    await second.wait_type("PlaybackStarted")
    # Nothing from before or during the gap is replayed.
    assert [e["type"] for e in second.events] == ["PlaybackStarted"]
    assert not any(e["type"] == "ChannelDtmfReceived" for e in first.events)
    assert not call.ended


async def test_second_socket_replaces_the_first(ari: AriClient) -> None:
    old = await ari.connect()
    new = await ari.connect()
    replaced = await old.wait_type("ApplicationReplaced")
    assert replaced["application"] == "msp-intake"
    await ari.fake.place_call(ScriptedCaller(**DANA))
    await new.wait_type("StasisStart")
    assert [e["type"] for e in old.events] == ["ApplicationReplaced"]
    assert not old.ws.closed


async def test_call_without_app_socket_fails_stasis(ari: AriClient) -> None:
    status, body, _ = await ari.call("GET", "/applications/msp-intake")
    assert_error(status, body, "application_missing")
    call = await ari.fake.place_call(ScriptedCaller(**DANA, dialed="5551000"))
    await call.wait_ended(timeout=1)
    assert call.stasis_status == "FAILED"
    assert call.continued_to == ("msp-intake", "5551000", 3)
    status, apps, _ = await ari.call("GET", "/applications")
    assert (status, apps) == (200, [])


# -- recording -------------------------------------------------------------------


async def test_record_until_key_serves_a_wav(ari: AriClient) -> None:
    stream = await ari.connect()
    speech = tone(440, seconds=0.6)
    caller = ScriptedCaller(
        **DANA, steps=[Step(audio=speech, at=0.0), Step(dtmf="#", at=1.1)]
    )
    call = await ari.fake.place_call(caller)
    mark = len(stream.events) + 1  # the answer's ChannelStateChange comes first
    status, body, resp = await ari.call(
        "POST",
        f"/channels/{call.channel_id}/record",
        params={
            "name": "rec-1",
            "format": "wav",
            "terminateOn": "#",
            "maxSilenceSeconds": "5",
            "ifExists": "overwrite",
        },
    )
    assert status == 201 and body["state"] == "recording"
    assert resp.headers["Location"] == "/ari/recordings/live/rec-1"
    finished = await stream.wait_type("RecordingFinished")
    assert stream.types_since(mark) == SEQUENCES["record_terminated_by_key"]
    recording = finished["recording"]
    assert (recording["duration"], recording["talking_duration"]) == (1, 0)
    assert recording["silence_duration"] == 1
    status, body, _ = await ari.call("GET", "/recordings/stored/rec-1")
    assert (status, body) == (200, {"name": "rec-1", "format": "wav"})
    status, wav, resp = await ari.call("GET", "/recordings/stored/rec-1/file")
    assert status == 200 and resp.content_type == "audio/wav"
    assert wav[:4] == b"RIFF" and int.from_bytes(wav[24:28], "little") == 8000
    status, body, _ = await ari.call("GET", "/recordings/stored/no-such-rec")
    assert_error(status, body, "recording_missing")


# -- load --------------------------------------------------------------------------


async def test_fifty_calls_at_once(ari: AriClient) -> None:
    stream = await ari.connect()
    callers = [
        ScriptedCaller(
            caller_number=f"+1555201{n:04d}",
            steps=[Step(hangup=True, on_media="greeting")],
        )
        for n in range(60)
    ]
    calls = await asyncio.gather(*(ari.fake.place_call(c) for c in callers))
    await asyncio.gather(
        *(
            ari.call(
                "POST",
                f"/channels/{c.channel_id}/play",
                params={"media": "sound:greeting"},
            )
            for c in calls
        )
    )
    await asyncio.gather(*(c.wait_ended(timeout=5) for c in calls))
    ends = [e for e in stream.events if e["type"] == "StasisEnd"]
    assert len(ends) == 60 and len({c.channel_id for c in calls}) == 60
    status, channels, _ = await ari.call("GET", "/channels")
    assert (status, channels) == (200, [])


def tone(hertz: float, seconds: float, amplitude: int = 8000) -> bytes:
    """A sine tone as 16 kHz signed 16-bit little-endian PCM."""
    count = int(16000 * seconds)
    samples = array.array(
        "h",
        (
            int(amplitude * math.sin(2 * math.pi * hertz * i / 16000))
            for i in range(count)
        ),
    )
    return samples.tobytes()


async def test_originate_with_app_and_duplicate_id(ari: AriClient) -> None:
    stream = await ari.connect()
    params = {
        "endpoint": "Local/s@sim-caller",
        "app": "msp-intake",
        "appArgs": "callback,T-1",
        "channelId": "out-1",
        "callerId": "Dana <+15552010101>",
    }
    status, body, _ = await ari.call("POST", "/channels", params=params)
    assert status == 200 and body["state"] == "Down"
    assert body["caller"] == {"name": "Dana", "number": "+15552010101"}
    start = await stream.wait_type("StasisStart")
    assert start["args"] == ["callback", "T-1"]
    status, body, _ = await ari.call("POST", "/channels", params=params)
    assert_error(status, body, "duplicate_channel_id")
    await ari.call("DELETE", "/channels/out-1")
    destroyed = await stream.wait_type("ChannelDestroyed")
    assert destroyed["channel"]["id"] == "out-1"
