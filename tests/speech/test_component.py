"""The speech component at service start: what it says when parts are missing."""

import logging

import pytest

from ari_app import config
from ari_app.speech import component as speech_component
from ari_app.speech import tts


def make(tmp_path, **speech):
    overrides = {
        "ari.url": "http://127.0.0.1:8088",
        "ari.username": "u",
        "ari.password": "p",
        "speech.model_path": str(tmp_path / "no-model"),
        "speech.sounds_dir": str(tmp_path / "sounds"),
    }
    overrides.update({f"speech.{k}": v for k, v in speech.items()})
    return speech_component.make_component(
        config.load_config(overrides=overrides), None
    )


async def test_no_model_is_one_warning_and_keypad_only(tmp_path, caplog):
    component = make(tmp_path)
    with caplog.at_level(logging.WARNING, logger="ari_app.speech"):
        await component.start()
    await component.stop()
    model_lines = [r for r in caplog.records if "Vosk model" in r.getMessage()]
    assert len(model_lines) == 1
    assert model_lines[0].levelno == logging.WARNING
    assert "keypad only" in model_lines[0].getMessage()
    assert component.available is False


async def test_missing_espeak_is_named_at_start(tmp_path, caplog, monkeypatch):
    monkeypatch.setattr(tts.ctypes.util, "find_library", lambda name: None)
    component = make(tmp_path)
    with caplog.at_level(logging.ERROR, logger="ari_app.speech"):
        await component.start()
    await component.stop()
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert any("apt-get install espeak-ng" in line for line in errors)
    assert component.voice_ready is False
    media = await component.company_prompt("Acme", "sound:msp-intake/matched")
    assert media == "sound:msp-intake/matched"


@pytest.mark.slow
async def test_the_real_model_loads_and_is_shared(tmp_path, ko_model_path):
    component = make(tmp_path, model_path=ko_model_path)
    await component.start()
    try:
        await component.model_loaded()
        assert component.available
        first, second = component.model.recognizer(), component.model.recognizer()
        assert first is not second  # one recognizer per call, one model
    finally:
        await component.stop()


def test_speech_can_be_switched_off(tmp_path):
    assert make(tmp_path, enabled="no") is None
