"""Turning prompt texts into the sound files Asterisk plays.

``render_catalogue`` (behind ``msp-intake prompts render``) writes every prompt of
the catalogue as ``<sounds_dir>/msp-intake/<name>.wav`` (8 kHz) and ``.sln16``
(16 kHz); Asterisk picks whichever suits the channel. A manifest next to the files
remembers what text, voice and rate each file was made from, so an unchanged
prompt is not rendered again and a changed one is.

``DynamicPrompts`` does the same during a call for texts known only then ("I have
you as Acme Dental"), on the synthesis thread, and falls back to a static prompt
when rendering fails so the call goes on.
"""

import asyncio
import dataclasses
import hashlib
import json
import logging
import os
import tempfile
import time

from . import audio, tts
from .catalogue import FOLDER

logger = logging.getLogger(__name__)

MANIFEST = ".render-cache.json"
DYNAMIC_FOLDER = "dynamic"
# Bump when the output format changes, so every cached file is rendered again.
FORMAT_VERSION = "1"


@dataclasses.dataclass
class RenderReport:
    rendered: list = dataclasses.field(default_factory=list)
    cached: list = dataclasses.field(default_factory=list)
    seconds: dict = dataclasses.field(default_factory=dict)  # name -> render time


def prompt_dir(settings):
    return os.path.join(settings.sounds_dir, FOLDER)


def cache_key(text, settings):
    parts = (FORMAT_VERSION, settings.espeak_voice, str(settings.rate), text)
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()


def render_catalogue(prompts, settings, *, force=False):
    """Render every prompt whose text, voice or rate changed (blocking)."""
    directory = prompt_dir(settings)
    os.makedirs(directory, exist_ok=True)
    manifest = _read_manifest(directory)
    report = RenderReport()
    for prompt in prompts:
        key = cache_key(prompt.text, settings)
        if not force and _is_current(directory, prompt.file_stem, key, manifest):
            report.cached.append(prompt.name)
            continue
        started = time.perf_counter()
        _submit(render_file, directory, prompt.file_stem, prompt.text, settings)
        report.seconds[prompt.name] = time.perf_counter() - started
        manifest[prompt.file_stem] = key
        _write_manifest(directory, manifest)
        report.rendered.append(prompt.name)
    return report


def _submit(function, *args):
    # espeak-ng must only ever run on its own thread, even from the CLI.
    return tts.SYNTH_EXECUTOR.submit(function, *args).result()


def render_file(directory, stem, text, settings):
    """Speak ``text`` and install ``stem.wav`` and ``stem.sln16`` (synthesis thread)."""
    pcm = tts.synthesize(text, settings.espeak_voice, settings.rate)
    wav = audio.resample(pcm, tts.SYNTH_RATE, audio.WAV_RATE)
    sln16 = audio.resample(pcm, tts.SYNTH_RATE, audio.SLN16_RATE)
    _install(
        os.path.join(directory, stem + ".wav"), audio.write_wav, wav, audio.WAV_RATE
    )
    _install(os.path.join(directory, stem + ".sln16"), audio.write_sln16, sln16)


def _install(path, writer, *args):
    """Write next to the target and rename, so Asterisk never plays half a file."""
    directory = os.path.dirname(path)
    handle, scratch = tempfile.mkstemp(dir=directory, prefix=".render-")
    os.close(handle)
    try:
        writer(scratch, *args)
        os.chmod(scratch, 0o644)  # the asterisk user must be able to read it
        os.replace(scratch, path)
    except BaseException:
        os.unlink(scratch)
        raise


def _is_current(directory, stem, key, manifest):
    if manifest.get(stem) != key:
        return False
    return all(
        os.path.exists(os.path.join(directory, stem + ext))
        for ext in (".wav", ".sln16")
    )


def _read_manifest(directory):
    try:
        with open(os.path.join(directory, MANIFEST), encoding="utf-8") as handle:
            data = json.load(handle)
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _write_manifest(directory, manifest):
    path = os.path.join(directory, MANIFEST)
    scratch = path + ".tmp"
    with open(scratch, "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=1, sort_keys=True)
    os.replace(scratch, path)


class DynamicPrompts:
    """Prompts whose text is known only during a call, rendered once and reused."""

    def __init__(self, settings):
        self.settings = settings
        self.directory = os.path.join(prompt_dir(settings), DYNAMIC_FOLDER)
        self._pending = {}  # cache key -> Future of the media URI

    async def media_for(self, text, fallback, channel_id=""):
        """The media URI that speaks ``text``, or ``fallback`` if it cannot be made."""
        key = cache_key(text, self.settings)
        future = self._pending.get(key)
        if future is None:
            future = asyncio.ensure_future(self._render(key, text))
            self._pending[key] = future
        try:
            return await asyncio.shield(future)
        except (tts.SpeechSynthesisError, OSError, ValueError) as exc:
            # Forget the failure so a later call tries again.
            self._pending.pop(key, None)
            logger.warning(
                "channel %s: could not render %r (%s); playing %s instead",
                channel_id,
                text,
                exc,
                fallback,
            )
            return fallback

    async def _render(self, key, text):
        stem = "dyn-" + key[:16]
        loop = asyncio.get_running_loop()
        exists = await loop.run_in_executor(None, self._exists, stem)
        if not exists:
            await loop.run_in_executor(
                tts.SYNTH_EXECUTOR, self._render_blocking, stem, text
            )
        return f"sound:{FOLDER}/{DYNAMIC_FOLDER}/{stem}"

    def _exists(self, stem):
        return all(
            os.path.exists(os.path.join(self.directory, stem + ext))
            for ext in (".wav", ".sln16")
        )

    def _render_blocking(self, stem, text):
        os.makedirs(self.directory, exist_ok=True)
        render_file(self.directory, stem, text, self.settings)
