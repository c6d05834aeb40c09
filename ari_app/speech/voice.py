"""What the call flow holds when a caller can answer by voice.

The call flow (``callflow.Call``) asks each triage question inside
``voice.question(field, call)``: while it is open, the caller's speech stops the
prompt (``call.speech_started``) and a usable spoken answer reaches the call
(``call.speech_answered``), racing the keypad; whichever comes first wins. After
the three questions, ``start_describing`` (as the prompt starts, so that words
said over it are kept) and ``describe`` record and transcribe the caller's words,
and ``raise_priority`` lets those words raise (never lower) the priority.
"""

import contextlib
import logging

from . import keywords

logger = logging.getLogger(__name__)


class Voice:
    def __init__(self, component, session):
        self.component = component
        self.session = session

    @property
    def channel_id(self):
        return self.session.channel_id

    @contextlib.asynccontextmanager
    async def question(self, field, call):
        """Listen for a spoken answer to ``field`` while the body runs."""
        try:
            await self.session.listen(field, call.speech_started, call.speech_answered)
        except Exception:
            # No recognizer for this question: the keypad still works.
            logger.exception(
                "channel %s: cannot listen for %s; keypad only", self.channel_id, field
            )
            yield
            return
        try:
            yield
        finally:
            self.session.stop_listening()

    async def start_describing(self, call):
        """Start recording the caller's own words; their speech stops the prompt."""
        return await self.session.start_recording(call.speech_started)

    async def describe(self, recording, stop):
        """Record and transcribe until silence, the time limit or ``stop``."""
        return await self.session.finish_recording(recording, stop)

    async def transcribe_recording(self, pcm):
        """``(text, confidence)`` of a whole recording, heard again."""
        return await self.session.transcribe_recording(pcm)

    def after_call(self, job, label):
        """Run ``job`` (a coroutine) past the end of the call; the service waits."""
        self.component.after_call(job, label)

    def raise_priority(self, priority, transcript):
        return keywords.raise_priority(
            priority, transcript or "", self.component.raise_words
        )

    async def close(self):
        await self.session.close()
