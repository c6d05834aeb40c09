"""Prompt rendering: real espeak-ng, real files, the cache and the install hint."""

import argparse
import os
import wave

import pytest

from ari_app import config
from ari_app.speech import cli, render, tts
from ari_app.speech.catalogue import build_catalogue
from ari_app.speech.settings import load_settings

pytestmark = pytest.mark.slow


def make_config(tmp_path, **speech):
    overrides = {
        "ari.url": "http://127.0.0.1:8088",
        "ari.username": "u",
        "ari.password": "p",
        "speech.sounds_dir": str(tmp_path / "sounds"),
        "speech.msp_name": "Northwind IT",
    }
    overrides.update({f"speech.{k}": v for k, v in speech.items()})
    return config.load_config(overrides=overrides)


def settings_for(conf):
    return load_settings(conf.parser)


def test_files_are_what_asterisk_plays(tmp_path):
    settings = settings_for(make_config(tmp_path))
    greeting = [p for p in build_catalogue(settings) if p.name == "greeting"]
    render.render_catalogue(greeting, settings)

    folder = tmp_path / "sounds" / "msp-intake"
    with wave.open(str(folder / "greeting.wav"), "rb") as handle:
        assert handle.getframerate() == 8000
        assert handle.getnchannels() == 1
        assert handle.getsampwidth() == 2
        frames = handle.getnframes()
    assert frames > 8000  # over a second of speech
    sln16_samples = os.path.getsize(folder / "greeting.sln16") // 2
    # The same speech at twice the rate: twice the samples, give or take a few.
    assert abs(sln16_samples - 2 * frames) <= 4


def test_unchanged_prompts_are_not_rendered_again(tmp_path):
    settings = settings_for(make_config(tmp_path))
    prompts = build_catalogue(settings)
    first = render.render_catalogue(prompts, settings)
    assert sorted(first.rendered) == sorted(p.name for p in prompts)
    wav = tmp_path / "sounds" / "msp-intake" / "goodbye.wav"
    before = wav.stat().st_mtime_ns

    second = render.render_catalogue(prompts, settings)

    assert second.rendered == []
    assert sorted(second.cached) == sorted(p.name for p in prompts)
    assert wav.stat().st_mtime_ns == before


def test_a_changed_text_or_voice_renders_again(tmp_path):
    settings = settings_for(make_config(tmp_path))
    render.render_catalogue(build_catalogue(settings), settings)

    edited = settings_for(make_config(tmp_path, msp_name="Contoso Support"))
    report = render.render_catalogue(build_catalogue(edited), edited)
    # Only the prompts that say the MSP's name changed.
    assert sorted(report.rendered) == ["goodbye", "greeting"]

    slower = settings_for(make_config(tmp_path, msp_name="Contoso Support", rate=120))
    report = render.render_catalogue(build_catalogue(slower), slower)
    assert len(report.rendered) == len(build_catalogue(slower))


def test_a_deleted_file_is_rendered_again(tmp_path):
    settings = settings_for(make_config(tmp_path))
    prompts = build_catalogue(settings)
    render.render_catalogue(prompts, settings)
    os.unlink(tmp_path / "sounds" / "msp-intake" / "invalid.sln16")

    report = render.render_catalogue(prompts, settings)

    assert report.rendered == ["invalid"]


def test_an_unknown_voice_is_named(tmp_path):
    settings = settings_for(make_config(tmp_path, voice="klingon-x"))
    with pytest.raises(tts.SpeechSynthesisError, match="klingon-x"):
        render.render_catalogue(build_catalogue(settings), settings)


def run_cli(conf, *argv):
    parser = argparse.ArgumentParser()
    cli.register(parser.add_subparsers())
    args = parser.parse_args(list(argv))
    return args.func(args, conf)


def test_cli_renders_and_reports(tmp_path, capsys):
    conf = make_config(tmp_path)
    assert run_cli(conf, "prompts", "render") == 0
    assert run_cli(conf, "prompts", "render") == 0
    out = capsys.readouterr().out
    assert "0 rendered, 10 unchanged" in out
    assert "Audio saved" not in out  # pyttsx3's own print is kept off stdout


def test_missing_espeak_names_the_package(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(tts.ctypes.util, "find_library", lambda name: None)
    assert run_cli(make_config(tmp_path), "prompts", "render") == 2
    assert "apt-get install espeak-ng" in capsys.readouterr().err
    assert not (tmp_path / "sounds" / "msp-intake").exists()


async def test_dynamic_prompt_is_rendered_once(tmp_path):
    settings = settings_for(make_config(tmp_path))
    prompts = render.DynamicPrompts(settings)
    uri = await prompts.media_for("I have you as Acme Dental.", "sound:fallback")
    assert uri.startswith("sound:msp-intake/dynamic/dyn-")
    path = tmp_path / "sounds" / uri[len("sound:") :]
    assert os.path.exists(str(path) + ".wav")
    before = os.stat(str(path) + ".wav").st_mtime_ns

    again = await prompts.media_for("I have you as Acme Dental.", "sound:fallback")

    assert again == uri
    assert os.stat(str(path) + ".wav").st_mtime_ns == before


async def test_dynamic_prompt_falls_back_when_rendering_fails(tmp_path):
    settings = settings_for(make_config(tmp_path, voice="klingon-x"))
    prompts = render.DynamicPrompts(settings)
    uri = await prompts.media_for("I have you as Acme Dental.", "sound:msp-intake/m")
    assert uri == "sound:msp-intake/m"
