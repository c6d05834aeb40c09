"""One call's ears: external media in, recognizers fed in worker threads.

The call flow opens a ``CallSpeech`` once the caller is answered. From then on
the caller's audio arrives over RTP; while a question is being asked, a
``QuestionListener`` (grammar mode) hears the answer, and for the free-form
question a ``Recording`` keeps the audio and transcribes it in full vocabulary.
Audio is handed to Vosk in batches on the speech thread pool, one batch at a time
per call, so the event loop never waits for recognition. A call whose recognition
falls behind by more than ``MAX_BACKLOG`` seconds drops its oldest audio (and
counts it) rather than answering ever later. A recording is kept apart from
that queue, frame by frame as it arrives, so it never loses audio; when the live
transcript did, ``transcribe_recording`` hears the whole recording again.
"""

import asyncio
import collections
import dataclasses
import logging
import os
import time

from . import audio, grammar
from .media import MediaLeg
from .rtp import FRAME_SECONDS, RtpEndpoint

logger = logging.getLogger(__name__)

BYTES_PER_SECOND = 32000  # 16 kHz, 16-bit mono
BATCH_FRAMES = 5  # 100 ms per hand-over to a recognizer thread
# Seconds of audio waiting before the oldest is dropped. A fresh Vosk recognizer
# can take over a second on its first words (it builds its search graph as it
# goes), so a tighter limit would throw away the start of most answers.
MAX_BACKLOG = 3.0
SPEECH_LEVEL = 300.0  # RMS above which a frame counts as the caller talking


@dataclasses.dataclass(frozen=True)
class SpokenAnswer:
    """A usable spoken answer to one triage question."""

    question: str
    value: object
    text: str
    confidence: float


@dataclasses.dataclass(frozen=True)
class Transcript:
    """The caller's own words: text, confidence and the saved recording."""

    text: str
    confidence: float
    recording_path: str | None
    seconds: float
    frames_dropped: int = 0  # audio the live recognizer never heard
    # The whole recording, for a transcript made after the call.
    pcm: bytes = dataclasses.field(default=b"", repr=False)


@dataclasses.dataclass
class AudioStats:
    frames: int = 0
    dropped: int = 0
    max_lag: float = 0.0  # seconds from a packet's arrival to its recognition
    last_fed_at: float = 0.0  # monotonic time the last batch was recognised


class CallSpeech:
    """The external media leg, the audio queue and whichever listener is active."""

    def __init__(self, component, ari, channel_id, claim, release):
        self.component = component
        self.settings = component.settings
        self.ari = ari
        self.channel_id = channel_id
        self.claim = claim
        self.release = release
        self.stats = AudioStats()
        self.endpoint = None
        self.leg = None
        self._frames = collections.deque()  # (pcm, arrival time)
        self._have_audio = asyncio.Event()
        self._drained = asyncio.Event()  # the pump has emptied the queue
        self._listener = None
        self._recording = None  # keeps every frame, whatever the queue drops
        self._pump_task = None

    async def open(self, app):
        """Start hearing the caller (external media bridged with the channel)."""
        self.endpoint = await RtpEndpoint.open(
            self.audio_in, self.settings.rtp_host, label=self.channel_id
        )
        self.leg = MediaLeg(self.ari, self.claim, self.release, self.channel_id)
        self._pump_task = asyncio.create_task(
            self._pump(), name=f"speech {self.channel_id}"
        )
        try:
            await self.leg.open(app, self.endpoint.address)
        except BaseException:
            await self.close()
            raise

    async def close(self):
        if self.leg is not None:
            await self.leg.close()
        if self.endpoint is not None:
            self.endpoint.close()
        if self._pump_task is not None:
            self._pump_task.cancel()
            await asyncio.gather(self._pump_task, return_exceptions=True)
            self._pump_task = None
        logger.info(
            "channel %s: speech closed (%d frames, %d dropped, max lag %.2f s)",
            self.channel_id,
            self.stats.frames,
            self.stats.dropped,
            self.stats.max_lag,
        )

    # Audio in.

    def audio_in(self, pcm, arrived):
        """Called for every RTP packet, in the event loop: queue, never block."""
        self.stats.frames += 1
        if self._recording is not None:
            self._recording.capture(pcm)
        self._frames.append((pcm, arrived))
        while len(self._frames) * FRAME_SECONDS > MAX_BACKLOG:
            self._frames.popleft()
            self.stats.dropped += 1
        self._have_audio.set()

    async def _pump(self):
        while True:
            await self._have_audio.wait()
            self._have_audio.clear()
            while self._frames:
                batch = [
                    self._frames.popleft()
                    for _ in range(min(BATCH_FRAMES, len(self._frames)))
                ]
                listener = self._listener
                if listener is None:
                    continue  # nobody is listening: the audio is not needed
                await listener.feed(b"".join(pcm for pcm, _ in batch))
                now = time.monotonic()
                self.stats.max_lag = max(self.stats.max_lag, now - batch[-1][1])
                self.stats.last_fed_at = now
            self._drained.set()

    # Listening.

    async def listen(self, question, on_speech, on_answer):
        """Listen for an answer to ``question`` until ``stop_listening``.

        ``on_speech()`` is called once when the caller starts talking (barge-in),
        ``on_answer(SpokenAnswer)`` for a usable answer.
        """
        listener = QuestionListener(self, question, on_speech, on_answer)
        await listener.prepare()
        self._listener = listener
        return listener

    def stop_listening(self):
        self._listener = None

    async def start_recording(self, on_speech=None):
        """Start keeping the caller's audio (before the prompt, for barge-in)."""
        recording = Recording(self, on_speech)
        await recording.prepare()
        recording.dropped_before = self.stats.dropped
        self._listener = self._recording = recording
        return recording

    async def finish_recording(self, recording, stop):
        """Record until silence, the time limit or ``stop``; transcribe."""
        try:
            await recording.wait(stop)
            # What the caller said up to # or the hangup is still queued here.
            await self._drain()
        finally:
            self._listener = self._recording = None
        return await recording.finish(self.stats.dropped - recording.dropped_before)

    async def transcribe_recording(self, pcm, chunk_seconds=1.0):
        """Hear a whole recording again, in full vocabulary, a chunk at a time.

        One chunk per hand-over to the speech pool, so the live calls' batches
        are not held up behind a long recording.
        """
        recognizer = await self.in_thread(self.component.model.recognizer)
        parts = []
        step = int(chunk_seconds * BYTES_PER_SECOND)
        for start in range(0, len(pcm), step):
            chunk = pcm[start : start + step]
            if await self.in_thread(recognizer.accept, chunk):
                parts.append(await self.in_thread(recognizer.result))
        parts.append(await self.in_thread(recognizer.final))
        return _joined(parts)

    async def _drain(self):
        """Let the pump hand every queued frame to the listener (bounded)."""
        self._drained.clear()
        self._have_audio.set()
        try:
            await asyncio.wait_for(self._drained.wait(), MAX_BACKLOG)
        except TimeoutError:
            logger.warning(
                "channel %s: recognition did not catch up; the end is cut",
                self.channel_id,
            )

    async def in_thread(self, function, *args):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.component.pool, function, *args)


class QuestionListener:
    """Grammar-mode recognition of one yes/no or how-many answer."""

    def __init__(self, session, question, on_speech, on_answer):
        self.session = session
        self.question = question
        self.on_speech = on_speech
        self.on_answer = on_answer
        self.recognizer = None
        self.failed = False
        self._spoke = False

    async def prepare(self):
        model = self.session.component.model
        phrases = grammar.phrases(self.question)
        self.recognizer = await self.session.in_thread(model.recognizer, phrases)

    async def feed(self, pcm):
        if self.failed:
            return
        try:
            ended, partial, heard = await self.session.in_thread(self._accept, pcm)
        except Exception:
            # A recognizer error costs this question its voice answer, not the call.
            self.failed = True
            logger.exception(
                "channel %s: recognizer failed; keypad only for %s",
                self.session.channel_id,
                self.question,
            )
            return
        if (partial or heard) and not self._spoke:
            self._spoke = True
            self.on_speech()
        if ended and heard is not None and not heard.empty:
            self._heard(heard)

    def _accept(self, pcm):
        """In a speech thread: feed audio, report what has been heard so far."""
        if self.recognizer.accept(pcm):
            return True, "", self.recognizer.result()
        return False, self.recognizer.partial(), None

    def _heard(self, heard):
        channel_id = self.session.channel_id
        value = grammar.interpret(self.question, heard.text)
        minimum = self.session.settings.min_confidence
        if value is None or heard.confidence < minimum:
            logger.info(
                "channel %s: %s: heard %r (confidence %.2f), not usable",
                channel_id,
                self.question,
                heard.text,
                heard.confidence,
            )
            self._spoke = False  # let a second try barge in again
            return
        logger.info(
            "channel %s: %s: heard %r (confidence %.2f) -> %s",
            channel_id,
            self.question,
            heard.text,
            heard.confidence,
            value,
        )
        self.on_answer(SpokenAnswer(self.question, value, heard.text, heard.confidence))


class Recording:
    """The free-form answer: keep the audio, transcribe it in full vocabulary."""

    def __init__(self, session, on_speech):
        self.session = session
        self.settings = session.settings
        self.on_speech = on_speech
        self.recognizer = None
        self.pcm = bytearray()
        self.parts = []  # Hypothesis per utterance
        self.failed = False
        self.talked = False
        self.silent_for = 0.0
        self.done = asyncio.Event()
        # A Vosk recognizer must never be used by two threads at once: the
        # last batch can still be in a thread when the recording ends.
        self._busy = asyncio.Lock()
        self._finished = False
        self.dropped_before = 0

    async def prepare(self):
        model = self.session.component.model
        self.recognizer = await self.session.in_thread(model.recognizer)

    def capture(self, pcm):
        """Every frame as it arrives (in the event loop): the recording itself."""
        if self._finished or self._at_limit():
            return
        self.pcm.extend(pcm)
        self._track_silence(pcm)
        if self._at_limit():
            self.done.set()

    def _at_limit(self):
        return len(self.pcm) / BYTES_PER_SECOND >= self.settings.record_max_seconds

    async def feed(self, pcm):
        """Live recognition of what the queue kept (it may have dropped some)."""
        if self._finished or self.failed:
            return
        try:
            async with self._busy:
                heard = await self.session.in_thread(self._accept, pcm)
        except Exception:
            self.failed = True
            logger.exception(
                "channel %s: recognizer failed while recording",
                self.session.channel_id,
            )
            return
        if heard is not None and not heard.empty:
            self.parts.append(heard)

    def _track_silence(self, pcm):
        seconds = len(pcm) / BYTES_PER_SECOND
        if audio.rms(pcm) >= SPEECH_LEVEL:
            if not self.talked and self.on_speech is not None:
                self.on_speech()
            self.talked = True
            self.silent_for = 0.0
            return
        self.silent_for += seconds
        if self.talked and self.silent_for >= self.settings.record_silence_seconds:
            self.done.set()

    def _accept(self, pcm):
        if self.recognizer.accept(pcm):
            return self.recognizer.result()
        return None

    async def wait(self, stop):
        """Until silence after speech, the limit, or ``stop`` (# or a hangup).

        A caller who has not said a word within ``describe_wait_seconds`` has
        nothing to add: the recording ends then, not at the time limit.
        """
        # Called once the prompt has ended: the caller's few seconds start now.
        limit = self.settings.record_max_seconds + 1.0
        first_wait = min(self.settings.describe_wait_seconds, limit)
        if await self._wait_for(stop, first_wait) or not self.talked:
            return
        await self._wait_for(stop, limit - first_wait)

    async def _wait_for(self, stop, timeout):
        """True when the recording ended or was stopped within ``timeout``."""
        waits = {asyncio.ensure_future(self.done.wait())}
        waits.add(asyncio.ensure_future(stop.wait()))
        try:
            done, _ = await asyncio.wait(
                waits, timeout=timeout, return_when="FIRST_COMPLETED"
            )
        finally:
            for waiter in waits:
                waiter.cancel()
        return bool(done)

    async def finish(self, dropped=0):
        self._finished = True
        if not self.failed:
            try:
                async with self._busy:
                    tail = await self.session.in_thread(self.recognizer.final)
            except Exception:
                logger.exception(
                    "channel %s: recognizer failed at the end of the recording",
                    self.session.channel_id,
                )
            else:
                if not tail.empty:
                    self.parts.append(tail)
        path = await self.session.in_thread(self._save)
        text, confidence = _joined(self.parts)
        return Transcript(
            text,
            confidence,
            path,
            len(self.pcm) / BYTES_PER_SECOND,
            frames_dropped=dropped,
            pcm=bytes(self.pcm),
        )

    def _save(self):
        """Keep the caller's words next to the ticket (16 kHz mono WAV)."""
        if not self.pcm:
            return None
        directory = self.settings.recordings_dir
        try:
            os.makedirs(directory, exist_ok=True)
            stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
            name = f"{self.session.channel_id}-{stamp}.wav".replace("/", "_")
            path = os.path.join(directory, name)
            audio.write_wav(path, bytes(self.pcm), audio.SLN16_RATE)
        except OSError as exc:
            logger.warning(
                "channel %s: recording not saved in %s: %s",
                self.session.channel_id,
                directory,
                exc,
            )
            return None
        return path


def _joined(parts):
    """One text and mean confidence from the hypotheses of several utterances."""
    parts = [part for part in parts if not part.empty]
    text = " ".join(part.text for part in parts)
    confidence = 0.0
    if parts:
        confidence = sum(p.confidence for p in parts) / len(parts)
    return text, round(confidence, 3)
