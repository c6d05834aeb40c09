"""The one place that talks to pyttsx3 (and through it, espeak-ng).

Rendering a prompt (``render``) calls ``synthesize`` here. Three pyttsx3 habits
are contained in this module:

* espeak-ng is initialised once per process and is not thread-safe, so every
  synthesis runs on one dedicated thread (``SYNTH_EXECUTOR``);
* its espeak driver prints "Audio saved to ..." on stdout after each file, so the
  call is wrapped in ``redirect_stdout``;
* its run loop can return before espeak-ng (working on a thread of its own) has
  written the file, so we wait for the driver's "finished-utterance" notice;
  and the driver sometimes cancels a run with a stop request left over from the
  run before (it clears that request as it cancels), so a cut-short run is
  tried again, up to SYNTH_ATTEMPTS times;
* it accepts any voice name without complaint, so voices are checked against the
  list espeak-ng reports before they are used;
* when espeak-ng's data files are missing, libespeak-ng calls ``exit()`` from C,
  which no Python handler can catch; so espeak-ng is first started once in a
  child process (``_probe``), and only a probe that succeeded lets this process
  load it.
"""

import atexit
import concurrent.futures
import contextlib
import ctypes.util
import io
import logging
import os
import subprocess
import sys
import tempfile
import threading
import wave

from ..exceptions import MspIntakeError

logger = logging.getLogger(__name__)

# pyttsx3 always writes 22,050 Hz mono 16-bit WAV with the espeak driver.
SYNTH_RATE = 22050

INSTALL_HINT = "espeak-ng is not installed: run 'apt-get install espeak-ng'"
DATA_HINT = "run 'apt-get install --reinstall espeak-ng-data'"
PROBE_TIMEOUT = 30.0  # seconds for a child process to start espeak-ng
_PROBE = "import pyttsx3; pyttsx3.init('espeak')"

SYNTH_EXECUTOR = concurrent.futures.ThreadPoolExecutor(
    max_workers=1, thread_name_prefix="tts"
)

SYNTH_TIMEOUT = 30.0  # seconds; the longest prompt takes well under one
SYNTH_ATTEMPTS = 3

_engine = None
_engine_lock = threading.Lock()
_finished = threading.Event()
_outcome = {}  # what the last "finished-utterance" notice said


class SpeechSynthesisError(MspIntakeError):
    """A prompt could not be spoken (espeak-ng missing, unknown voice...)."""


class EspeakUnavailable(SpeechSynthesisError):
    """espeak-ng cannot be used at all: no spoken prompt can be rendered."""


class EspeakMissing(EspeakUnavailable):
    """espeak-ng (the library pyttsx3 drives) is not installed."""

    def __init__(self):
        super().__init__(INSTALL_HINT)


def check_available():
    """Raise EspeakUnavailable unless espeak-ng and pyttsx3 can be loaded."""
    if ctypes.util.find_library("espeak-ng") is None:
        raise EspeakMissing()
    _get_engine()


def _drop_engine():
    # pyttsx3's driver cleans up in __del__ with the contextlib module; at
    # interpreter exit that module may already be gone, and it prints a
    # traceback. Letting go of the engine while modules still exist avoids it.
    global _engine
    _engine = None


atexit.register(_drop_engine)


def _get_engine():
    global _engine
    with _engine_lock:
        if _engine is None:
            if ctypes.util.find_library("espeak-ng") is None:
                raise EspeakMissing()
            _probe()
            try:
                import pyttsx3

                engine = pyttsx3.init("espeak")
            except (ImportError, OSError, RuntimeError) as exc:
                # pyttsx3 raises RuntimeError when it cannot load libespeak-ng.
                raise EspeakMissing() from exc
            except Exception as exc:  # pyttsx3's drivers raise what they like
                raise EspeakUnavailable(
                    f"espeak-ng cannot start ({exc}); {DATA_HINT}"
                ) from exc
            engine.connect("finished-utterance", _utterance_finished)
            _engine = engine
        return _engine


def _probe():
    """Start espeak-ng in a child process, where its ``exit()`` is harmless."""
    try:
        result = subprocess.run(
            [sys.executable, "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EspeakUnavailable(f"espeak-ng cannot start ({exc})") from exc
    if result.returncode == 0:
        return
    said = [line.strip() for line in (result.stderr + result.stdout).splitlines()]
    said = [line for line in said if line] or [f"exit status {result.returncode}"]
    raise EspeakUnavailable(
        f"espeak-ng cannot start, its data files are missing or broken "
        f"({said[-1]}): {DATA_HINT}"
    )


def _utterance_finished(name=None, completed=True):
    _outcome["completed"] = completed
    _finished.set()


def voice_ids():
    """Every voice espeak-ng offers, by the names a config file may use."""
    names = {}
    for voice in _get_engine().getProperty("voices"):
        short = voice.id.rsplit("/", 1)[-1]
        for alias in (voice.id, short, voice.name.lower(), *voice.languages):
            names.setdefault(str(alias).lower(), short)
    return names


def synthesize(text, voice, rate):
    """Speak ``text``; return 16-bit mono samples at SYNTH_RATE (blocking).

    Only call this on SYNTH_EXECUTOR's thread.
    """
    engine = _get_engine()
    espeak_name = voice_ids().get(voice.lower())
    if espeak_name is None:
        raise SpeechSynthesisError(
            f"voice {voice!r} is not an espeak-ng voice (see 'espeak-ng --voices')"
        )
    engine.setProperty("voice", espeak_name)
    engine.setProperty("rate", rate)
    for attempt in range(1, SYNTH_ATTEMPTS):
        try:
            return _synthesize_once(engine, text)
        except SpeechSynthesisError:
            logger.debug("espeak-ng run %d for %r was cut short", attempt, text)
    return _synthesize_once(engine, text)


def _synthesize_once(engine, text):
    with tempfile.TemporaryDirectory(prefix="msp-intake-tts-") as scratch:
        path = os.path.join(scratch, "prompt.wav")
        _finished.clear()
        _outcome.clear()
        engine.save_to_file(text, path)
        with contextlib.redirect_stdout(io.StringIO()):
            engine.runAndWait()
            # espeak-ng synthesises on its own thread in this mode, and
            # runAndWait can return before it is done: wait for the driver's
            # own "finished" notice, which comes after the file is written.
            done = _finished.wait(SYNTH_TIMEOUT)
        if not done or not _outcome.get("completed", True):
            raise SpeechSynthesisError(f"espeak-ng did not finish {text!r}")
        return _read_synth_wav(path, text)


def _read_synth_wav(path, text):
    try:
        with wave.open(path, "rb") as handle:
            frames = handle.readframes(handle.getnframes())
            framerate = handle.getframerate()
    except (OSError, EOFError, wave.Error) as exc:
        raise SpeechSynthesisError(f"espeak-ng wrote no audio for {text!r}") from exc
    if not frames:
        raise SpeechSynthesisError(f"espeak-ng wrote no audio for {text!r}")
    if framerate != SYNTH_RATE:
        raise SpeechSynthesisError(f"espeak-ng wrote {framerate} Hz, not {SYNTH_RATE}")
    return frames
