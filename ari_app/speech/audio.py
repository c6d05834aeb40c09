"""Sample formats: what espeak-ng gives, what Asterisk plays, what Vosk hears.

Prompts go from espeak-ng's 22,050 Hz to the 8 kHz ``.wav`` and 16 kHz ``.sln16``
that Asterisk plays without transcoding. Caller audio arrives from external media
as big-endian slin16 and Vosk wants little-endian. Resampling is soxr's job.
"""

import wave

import numpy
import soxr

WAV_RATE = 8000
SLN16_RATE = 16000


def resample(pcm, from_rate, to_rate):
    """Resample 16-bit mono little-endian PCM bytes with soxr's high quality."""
    samples = numpy.frombuffer(pcm, dtype="<i2")
    out = soxr.resample(samples, from_rate, to_rate, quality="HQ")
    return numpy.asarray(out, dtype="<i2").tobytes()


def write_wav(path, pcm, rate):
    with wave.open(path, "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(pcm)


def write_sln16(path, pcm):
    """Asterisk's ``.sln16`` is headerless 16 kHz signed linear in host order."""
    samples = numpy.frombuffer(pcm, dtype="<i2")
    with open(path, "wb") as handle:
        handle.write(samples.astype("=i2").tobytes())


def big_to_little(payload):
    """RTP slin is network byte order; swap every 16-bit sample to little-endian."""
    return numpy.frombuffer(payload, dtype=">i2").astype("<i2").tobytes()


def little_to_big(pcm):
    return numpy.frombuffer(pcm, dtype="<i2").astype(">i2").tobytes()


def rms(pcm):
    """Root mean square level of little-endian 16-bit PCM (0..32768)."""
    samples = numpy.frombuffer(pcm, dtype="<i2").astype(numpy.float64)
    if samples.size == 0:
        return 0.0
    return float(numpy.sqrt(numpy.mean(samples * samples)))
