"""The one place that talks to Vosk: the shared model and a recognizer per call.

The speech component loads one ``SpeechModel`` at start-up (in a thread; it takes
seconds and hundreds of megabytes) and every call gets its own ``Recognizer`` on
it. Everything here blocks and runs in worker threads, never in the event loop.

The vosk bindings download models and print when given a model *name*; this module
only ever passes a path, and quiets Kaldi's log lines once, here.
"""

import dataclasses
import json
import logging
import os
import threading

from ..exceptions import MspIntakeError

logger = logging.getLogger(__name__)

SAMPLE_RATE = 16000
UNKNOWN_WORD = "[unk]"

_vosk = None
_import_lock = threading.Lock()


class ModelUnavailable(MspIntakeError):
    """No usable Vosk model at the configured path (or vosk is not installed)."""


@dataclasses.dataclass(frozen=True)
class Hypothesis:
    """What the recognizer heard: the text and the mean confidence of its words."""

    text: str
    confidence: float

    @property
    def empty(self):
        return not self.text


def _import_vosk():
    global _vosk
    with _import_lock:
        if _vosk is None:
            try:
                import vosk
            except ImportError as exc:
                raise ModelUnavailable(
                    "the vosk package is not installed (pip install vosk)"
                ) from exc
            # -1 silences Kaldi's per-model and per-recognizer LOG lines.
            vosk.SetLogLevel(-1)
            _vosk = vosk
        return _vosk


class SpeechModel:
    """A Vosk model, loaded once and shared by every call's recognizer."""

    def __init__(self, path):
        if not os.path.isdir(path) or not os.access(path, os.R_OK | os.X_OK):
            raise ModelUnavailable(f"no readable Vosk model directory at {path}")
        vosk = _import_vosk()
        self.path = path
        try:
            self._model = vosk.Model(model_path=path)
        except Exception as exc:  # the bindings raise a bare Exception
            raise ModelUnavailable(f"{path} is not a Vosk model ({exc})") from exc

    def known(self, word):
        """True when the model's vocabulary has ``word`` (grammars need that)."""
        return self._model.vosk_model_find_word(word) != -1

    def grammar(self, phrases):
        """Keep only phrases whose every word the model knows, plus ``[unk]``."""
        usable = [p for p in phrases if all(self.known(w) for w in p.split())]
        return usable + [UNKNOWN_WORD]

    def recognizer(self, phrases=None):
        return Recognizer(self, phrases)


class Recognizer:
    """One call's recognizer: full vocabulary, or a phrase list (grammar mode)."""

    def __init__(self, model, phrases=None):
        vosk = _import_vosk()
        if phrases:
            grammar = json.dumps(model.grammar(phrases), ensure_ascii=False)
            self._kaldi = vosk.KaldiRecognizer(model._model, SAMPLE_RATE, grammar)
        else:
            self._kaldi = vosk.KaldiRecognizer(model._model, SAMPLE_RATE)
        self._kaldi.SetWords(True)

    def accept(self, pcm):
        """Feed little-endian 16 kHz PCM; True when an utterance just ended."""
        return bool(self._kaldi.AcceptWaveform(pcm))

    def partial(self):
        return json.loads(self._kaldi.PartialResult()).get("partial", "")

    def result(self):
        """The utterance that just ended (after ``accept`` returned True)."""
        return _hypothesis(self._kaldi.Result())

    def final(self):
        """Whatever is left when the audio stops."""
        return _hypothesis(self._kaldi.FinalResult())

    def reset(self):
        self._kaldi.Reset()


def _hypothesis(raw):
    data = json.loads(raw)
    words = [w for w in data.get("result", []) if w.get("word") != UNKNOWN_WORD]
    text = " ".join(w["word"] for w in words)
    if not words:
        return Hypothesis("", 0.0)
    confidence = sum(float(w.get("conf", 0.0)) for w in words) / len(words)
    return Hypothesis(text, round(confidence, 3))
