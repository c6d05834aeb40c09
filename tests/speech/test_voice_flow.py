"""The call flow with voice: speech races keys, barge-in, fallbacks, priority raise.

Real service, real test double of Asterisk with external media over RTP, real
SQLite; the recognizer is ``ModelDouble`` so each test chooses what was heard.
"""

import asyncio
import threading
import wave

import pytest

from ari_app import board, config, models, store
from ari_app.doubles.asterisk import FakeAsterisk, ScriptedCaller, Step
from ari_app.service import Service
from ari_app.speech import component as speech_component
from ari_app.speech import session as speech_session

from .conftest import tone
from .doubles import ModelDouble

# A second of "speech" (a tone loud enough to count as talking) and some silence.
UTTERANCE = tone(300, 1.0) + bytes(16000)


def service_config(fake, tmp_path, **speech):
    overrides = {
        "ari.url": fake.url,
        "ari.username": "msp-intake",
        "ari.password": "secret",
        "store.path": str(tmp_path / "intake.sqlite3"),
        "triage.answer_timeout": "2.5",
        "triage.digit_timeout": "1",
        "triage.asks": "2",
        "service.shutdown_grace": "2",
        "speech.model_path": str(tmp_path / "no-model"),
        "speech.sounds_dir": str(tmp_path / "sounds"),
        "speech.recordings_dir": str(tmp_path / "recordings"),
        "speech.record_silence_seconds": "0.6",
        "speech.record_max_seconds": "5",
    }
    overrides.update({f"speech.{k}": v for k, v in speech.items()})
    return config.load_config(overrides=overrides)


async def run_call(
    tmp_path, steps, model=None, sound_seconds=0.3, on_fake=None, **speech
):
    async with FakeAsterisk(sound_seconds=sound_seconds) as fake:
        if on_fake is not None:
            on_fake(fake)
        service = Service(service_config(fake, tmp_path, **speech))
        await service.start()
        component = service.services.component("speech")
        await component.model_loaded()
        component.model = model  # None: as if no model were installed
        try:
            await service.events.connected.wait()
            call = await fake.place_call(ScriptedCaller(steps=steps))
            await call.wait_ended(timeout=40)
            while service.stasis.tasks:
                await asyncio.sleep(0.05)
            left = [
                line.channel.id
                for line in fake.pbx.lines.values()
                if line.channel.in_stasis
            ]
            bridges = list(fake.pbx.bridges)
        finally:
            service.stopped.set()
            await service.stop()
    store.open_store(str(tmp_path / "intake.sqlite3"))
    try:
        ticket = models.Ticket.get(models.Ticket.channel_id == call.channel_id)
        events = [(e.kind, e.detail) for e in store.timeline(ticket.id)]
    finally:
        store.close_store()
    return call, ticket, events, (left, bridges)


def said(step, text):
    return f"{step}: said {text!r}"


async def test_spoken_answers_fill_the_ticket(tmp_path):
    model = ModelDouble(
        {
            "site_down": ("the whole office", 0.9),
            "critical": ("yes", 0.95),
            "users": ("about twelve", 0.8),
            "describe": ("our server is down and nobody can work", 0.7),
        }
    )
    steps = [
        Step(audio=UTTERANCE, on_media="q-site-down", delay=0.1),
        Step(audio=UTTERANCE, on_media="q-critical", delay=0.1),
        Step(audio=UTTERANCE, on_media="q-users", delay=0.1),
        Step(audio=UTTERANCE, on_media="describe", delay=0.4),
    ]
    call, ticket, events, leftovers = await run_call(tmp_path, steps, model)

    assert (ticket.site_down, ticket.critical, ticket.users_affected) == (
        True,
        True,
        12,
    )
    details = " | ".join(detail for _, detail in events)
    assert said("q_site_down", "the whole office") in details
    assert said("q_users", "about twelve") in details
    assert ticket.transcript == "our server is down and nobody can work"
    assert ticket.transcript_confidence == pytest.approx(0.7)
    assert ticket.recording_path and ticket.recording_path.endswith(".wav")
    assert ticket.speech == "voice"
    assert ticket.priority == "P1"
    assert leftovers == ([], [])  # media channel and bridge torn down


def record_stops(stops):
    """Note when the app stops each prompt, and which one it was."""

    def install(fake):
        stop = fake.pbx.stop_playback

        def stop_and_note(playback_id):
            media = fake.pbx.playbacks[playback_id].media_uri
            stops.append((asyncio.get_running_loop().time(), media))
            stop(playback_id)

        fake.pbx.stop_playback = stop_and_note

    return install


async def test_speech_stops_the_prompt_it_talks_over(tmp_path):
    # An unsure answer: barge-in alone must stop the prompt, long before the
    # utterance ends (2.5 s of talking), and the keypad then answers.
    model = ModelDouble({"site_down": ("yes", 0.2)})
    long_utterance = tone(300, 2.5) + bytes(16000)
    steps = [
        Step(audio=long_utterance, on_media="q-site-down", delay=0.2),
        Step(dtmf="2", on_media="q-site-down", delay=0.1),
        Step(dtmf="2", on_media="q-critical", delay=0.1),
        Step(dtmf="1#", on_media="q-users", delay=0.1),
    ]
    stops = []
    started = asyncio.get_running_loop().time()
    _, ticket, events, _ = await run_call(
        tmp_path,
        steps,
        model,
        sound_seconds=lambda uri: 3.0 if "q-" in uri else 0.2,
        on_fake=record_stops(stops),
    )
    first_stop, media = stops[0]
    assert media.endswith("q-site-down")
    # Greeting 0.2 s, then 0.2 s into the question the caller talks.
    assert first_stop - started < 1.6
    assert ticket.site_down is False
    assert ("answer", "q_site_down: key 2") in events


async def test_a_key_pressed_first_wins(tmp_path):
    model = ModelDouble({"site_down": ("yes", 0.9)})
    steps = [
        Step(dtmf="2", on_media="q-site-down", delay=0.05),
        Step(audio=UTTERANCE, on_media="q-site-down", delay=0.3),
        Step(dtmf="2", on_media="q-critical", delay=0.1),
        Step(dtmf="4#", on_media="q-users", delay=0.1),
    ]
    _, ticket, events, _ = await run_call(tmp_path, steps, model)
    assert ticket.site_down is False
    assert ("answer", "q_site_down: key 2") in events


async def test_low_confidence_falls_back_to_the_keypad(tmp_path):
    model = ModelDouble({"site_down": ("yes", 0.3)})
    steps = [
        Step(audio=UTTERANCE, on_media="q-site-down", delay=0.1),
        Step(dtmf="2", on_media="q-site-down", delay=1.5),
        Step(dtmf="2", on_media="q-critical", delay=0.1),
        Step(dtmf="4#", on_media="q-users", delay=0.1),
    ]
    _, ticket, events, _ = await run_call(tmp_path, steps, model)
    assert ticket.site_down is False  # the key, not the unsure "yes"
    assert ("answer", "q_site_down: key 2") in events


async def test_a_failing_recognizer_leaves_the_keys_working(tmp_path):
    model = ModelDouble({"critical": ("yes", 0.9)}, fail={"critical"})
    steps = [
        Step(dtmf="1", on_media="q-site-down", delay=0.1),
        Step(audio=UTTERANCE, on_media="q-critical", delay=0.1),
        Step(dtmf="1", on_media="q-critical", delay=1.2),
        Step(dtmf="7#", on_media="q-users", delay=0.1),
    ]
    call, ticket, events, _ = await run_call(tmp_path, steps, model)
    assert (ticket.site_down, ticket.critical, ticket.users_affected) == (True, True, 7)
    assert ticket.status == models.OPEN


async def test_without_a_model_the_ivr_is_keypad_only(tmp_path):
    steps = [
        Step(dtmf="2", on_media="q-site-down", delay=0.1),
        Step(dtmf="2", on_media="q-critical", delay=0.1),
        Step(dtmf="2#", on_media="q-users", delay=0.1),
    ]
    call, ticket, events, leftovers = await run_call(tmp_path, steps, model=None)
    assert ticket.speech == "unavailable"
    assert any(kind == "speech_unavailable" for kind, _ in events)
    assert ticket.priority == "P4"
    assert not any("describe" in uri for uri in call.playbacks)
    assert leftovers == ([], [])


async def test_transcript_words_raise_but_never_lower(tmp_path):
    model = ModelDouble({"describe": ("I think it is ransomware", 0.8)})
    steps = [
        Step(dtmf="2", on_media="q-site-down", delay=0.1),
        Step(dtmf="2", on_media="q-critical", delay=0.1),
        Step(dtmf="1#", on_media="q-users", delay=0.1),
        Step(audio=UTTERANCE, on_media="describe", delay=0.3),
    ]
    _, ticket, _, _ = await run_call(tmp_path, steps, model)
    assert ticket.priority == "P1"
    assert "ransomware" in ticket.priority_reason
    assert "raised from P4" in ticket.priority_reason


async def test_hanging_up_tears_down_the_media_leg(tmp_path):
    model = ModelDouble({"site_down": ("yes", 0.9)})
    steps = [
        Step(audio=UTTERANCE, on_media="q-site-down", delay=0.1),
        Step(hangup=True, on_media="q-critical", delay=0.2),
    ]
    call, ticket, _, leftovers = await run_call(tmp_path, steps, model)
    assert ticket.status == models.ABANDONED
    assert ticket.site_down is True  # what was said before the hangup is kept
    assert leftovers == ([], [])  # no orphaned UnicastRTP channel, no bridge


async def test_a_hangup_while_describing_keeps_the_priority_and_the_words(tmp_path):
    # Keys give P4; the caller says a P1 raise word and hangs up mid-sentence.
    model = ModelDouble({"describe": ("it is ransomware I think", 0.8)})
    steps = [
        Step(dtmf="2", on_media="q-site-down", delay=0.1),
        Step(dtmf="2", on_media="q-critical", delay=0.1),
        Step(dtmf="1#", on_media="q-users", delay=0.1),
        Step(audio=tone(300, 8.0), on_media="describe", delay=0.4),
        Step(hangup=True, at=4.0),  # about 2 s into the description
    ]
    _, ticket, events, leftovers = await run_call(
        tmp_path, steps, model, record_max_seconds="20"
    )
    assert ticket.status == models.OPEN
    assert ticket.transcript == "it is ransomware I think"
    assert ticket.recording_path
    assert ticket.priority == "P1"
    kinds = [kind for kind, _ in events]
    # P4 was set before the description, then raised with the reason.
    assert kinds.index("priority_set") < kinds.index("described")
    assert kinds.index("described") < kinds.index("priority_raised")
    assert ("priority_set", "P4") in [(k, d[:2]) for k, d in events]
    assert "raised from P4 to P1" in ticket.priority_reason
    assert leftovers == ([], [])


async def test_a_silent_caller_hanging_up_at_the_description_is_not_abandoned(
    tmp_path,
):
    steps = [
        Step(dtmf="1", on_media="q-site-down", delay=0.1),
        Step(dtmf="1", on_media="q-critical", delay=0.1),
        Step(dtmf="20#", on_media="q-users", delay=0.1),
        Step(hangup=True, on_media="describe", delay=2.0),
    ]
    _, ticket, _, _ = await run_call(
        tmp_path, steps, ModelDouble({}), record_max_seconds="20"
    )
    assert ticket.status == models.OPEN
    assert ticket.priority == "P1"
    assert "partial" not in ticket.priority_reason
    assert ticket.transcript is None


async def test_a_silent_caller_is_moved_on_after_a_few_seconds(tmp_path):
    steps = [
        Step(dtmf="2", on_media="q-site-down", delay=0.1),
        Step(dtmf="2", on_media="q-critical", delay=0.1),
        Step(dtmf="3#", on_media="q-users", delay=0.1),
    ]
    started = asyncio.get_running_loop().time()
    call, ticket, events, _ = await run_call(
        tmp_path,
        steps,
        ModelDouble({}),
        record_max_seconds="30",
        describe_wait_seconds="1.5",
    )
    took = asyncio.get_running_loop().time() - started
    assert ticket.status == models.OPEN
    assert any("ticket-number" in uri for uri in call.playbacks)
    assert took < 12  # not the 30 s limit
    assert ticket.priority == "P4"


async def test_the_app_registers_while_the_model_loads(tmp_path, monkeypatch):
    loaded = threading.Event()

    class SlowModel(ModelDouble):
        def __init__(self, path):
            loaded.wait(30)  # a big model, still loading
            super().__init__({})

    monkeypatch.setattr(speech_component, "SpeechModel", SlowModel)
    steps = [
        Step(dtmf="2", on_media="q-site-down", delay=0.1),
        Step(dtmf="2", on_media="q-critical", delay=0.1),
        Step(dtmf="2#", on_media="q-users", delay=0.1),
    ]
    async with FakeAsterisk(sound_seconds=0.2) as fake:
        service = Service(service_config(fake, tmp_path))
        try:
            await asyncio.wait_for(service.start(), 5)
            await asyncio.wait_for(service.events.connected.wait(), 5)
            component = service.services.component("speech")
            call = await fake.place_call(ScriptedCaller(steps=steps))
            await call.wait_ended(timeout=20)
            while service.stasis.tasks:
                await asyncio.sleep(0.05)
            assert not component.available
        finally:
            loaded.set()
            service.stopped.set()
            await service.stop()
        assert component.available  # loaded in the end
    store.open_store(str(tmp_path / "intake.sqlite3"))
    try:
        ticket = models.Ticket.get(models.Ticket.channel_id == call.channel_id)
        events = [(e.kind, e.detail) for e in store.timeline(ticket.id)]
    finally:
        store.close_store()
    assert ticket.speech == "unavailable"
    assert ticket.status == models.OPEN and ticket.priority == "P4"
    assert (
        "speech_unavailable",
        "speech model still loading: keypad only",
    ) in events


async def test_words_said_over_the_describe_prompt_are_kept(tmp_path):
    model = ModelDouble({"describe": ("the server is down", 0.8)})
    steps = [
        Step(dtmf="2", on_media="q-site-down", delay=0.1),
        Step(dtmf="2", on_media="q-critical", delay=0.1),
        Step(dtmf="1#", on_media="q-users", delay=0.1),
        # 0.5 s into a 3 s prompt, one second of talking, then silence.
        Step(audio=UTTERANCE, on_media="describe", delay=0.5),
    ]
    stops = []
    _, ticket, events, _ = await run_call(
        tmp_path,
        steps,
        model,
        sound_seconds=lambda uri: 3.0 if "describe" in uri else 0.2,
        on_fake=record_stops(stops),
    )
    assert ticket.transcript == "the server is down"
    assert ticket.priority == "P2"  # raised by "server is down"
    assert [media for _, media in stops if media.endswith("describe")]
    described = next(detail for kind, detail in events if kind == "described")
    assert not described.startswith("0 s")


def ticket_json(tmp_path, ticket):
    store.open_store(str(tmp_path / "intake.sqlite3"))
    try:
        return board.ticket_to_dict(models.Ticket.get_by_id(ticket.id))
    finally:
        store.close_store()


async def test_the_ticket_json_shows_the_speech_fields(tmp_path):
    model = ModelDouble({"describe": ("the printer is jammed", 0.7)})
    keys = [
        Step(dtmf="2", on_media="q-site-down", delay=0.1),
        Step(dtmf="2", on_media="q-critical", delay=0.1),
        Step(dtmf="1#", on_media="q-users", delay=0.1),
    ]
    voice_dir, keypad_dir = tmp_path / "voice", tmp_path / "keypad"
    voice_dir.mkdir(), keypad_dir.mkdir()
    steps = keys + [Step(audio=UTTERANCE, on_media="describe", delay=0.3)]
    _, ticket, _, _ = await run_call(voice_dir, steps, model)
    data = ticket_json(voice_dir, ticket)
    assert data["speech"] == "voice" and data["speech_detail"] is None
    assert data["transcript"] == "the printer is jammed"
    assert data["transcript_confidence"] == pytest.approx(0.7)
    assert data["recording_path"].endswith(".wav")

    _, ticket, _, _ = await run_call(keypad_dir, keys, model=None)
    data = ticket_json(keypad_dir, ticket)
    assert data["speech"] == "unavailable"
    assert data["speech_detail"] == "no speech model: keypad only"
    assert data["transcript_confidence"] is None and data["recording_path"] is None


async def test_a_recognizer_that_fell_behind_is_caught_up_after_the_call(
    tmp_path, monkeypatch
):
    # The live recognizer takes 0.25 s per 0.1 s of audio and may lag 0.5 s:
    # it drops most of the description, and hears only its start.
    monkeypatch.setattr(speech_session, "MAX_BACKLOG", 0.5)
    model = ModelDouble(
        {
            "describe": [
                ("the server", 0.9),  # live, what survived the drops
                ("the server is down and nobody can work", 0.8),  # afterwards
            ]
        },
        accept_seconds=0.25,
    )
    spoken = tone(300, 3.0) + bytes(32000)
    steps = [
        Step(dtmf="2", on_media="q-site-down", delay=0.1),
        Step(dtmf="2", on_media="q-critical", delay=0.1),
        Step(dtmf="1#", on_media="q-users", delay=0.1),
        Step(audio=spoken, on_media="describe", delay=0.4),
    ]
    _, ticket, events, _ = await run_call(
        tmp_path, steps, model, record_silence_seconds="1.5"
    )
    assert ticket.transcript == "the server is down and nobody can work"
    assert ticket.priority == "P1"  # the words heard afterwards raised it
    kinds = [kind for kind, _ in events]
    assert "transcribed_after_call" in kinds
    assert kinds.index("transcribed_after_call") < kinds.index("priority_raised")
    # The recording kept every frame the caller sent: 3 s of talking at least.
    with wave.open(ticket.recording_path) as handle:
        assert handle.getnframes() / handle.getframerate() >= 3.0
    assert ticket_json(tmp_path, ticket)["transcript_made"] == "after the call"
