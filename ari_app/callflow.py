"""One inbound call, from StasisStart to hangup: ticket, answer, triage, goodbye.

The order is the product's promise: the ticket is committed with the PBX's own
contact time *before* the call is answered, so a caller who hangs up at any
moment still leaves exactly one ticket, marked abandoned, with whatever the IVR
had learned. Each question is asked by keypad; a key pressed while a prompt
plays stops the prompt and answers the question (keys pressed during the
greeting answer the first question). No answer or a wrong key is asked again,
then taken as unknown: the call never drops and never loops.

When the speech component (``ari_app.speech``) has a model, each question can
also be answered by voice: the caller's speech stops the prompt, and the first
usable answer, spoken or keyed, wins. The caller then describes the problem in
their own words; the transcript and recording go on the ticket and its words can
raise (never lower) the priority. Without a model the IVR is keypad-only.

The ``Call`` is fed events by ``stasis.Stasis`` and runs as its own task.
"""

import asyncio
import collections
import contextlib
import dataclasses
import datetime
import itertools
import logging

from . import directory, models, spool, store, triage
from .exceptions import AriError, ChannelGone, NotInStasis
from .models import utcnow

logger = logging.getLogger(__name__)

# Longest a single prompt may take before we stop waiting for its end. Asterisk
# always sends PlaybackFinished, but events are lost while the WebSocket is down.
PLAYBACK_LIMIT = 120.0

QUESTIONS = (
    # (answer field, prompt, step name)
    ("site_down", "q_site_down", "q_site_down"),
    ("critical", "q_critical", "q_critical"),
    ("users", "q_users", "q_users"),
)
FIELD_OF_STEP = {step: field for field, _, step in QUESTIONS}
YES_NO = {"1": True, "2": False}
MAX_USER_DIGITS = 5


# Q.850 causes a caller's hangup carries, in words for the timeline.
HANGUP_CAUSES = {
    16: "normal clearing",
    17: "user busy",
    18: "no user responding",
    19: "no answer",
    21: "call rejected",
    27: "destination out of order",
    31: "normal, unspecified",
    34: "no circuit available",
    38: "network out of order",
    41: "temporary failure",
    127: "interworking",
}


def describe_cause(cause):
    if cause is None:
        return "no cause given"
    try:
        code = int(cause)
    except (TypeError, ValueError):
        return f"cause {cause}"
    return f"cause {code}, {HANGUP_CAUSES.get(code, 'unlisted')}"


class CallerHungUp(Exception):
    """The caller is gone; the flow stops where it is."""


def parse_creationtime(text):
    """Asterisk's ``2026-12-03T12:42:40.282+0000`` as a naive UTC datetime."""
    value = datetime.datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset")
    return value.astimezone(datetime.UTC).replace(tzinfo=None)


def contact_time(event):
    """The contact time of a StasisStart: the channel's creation, not 'now'.

    Returns ``(time, source)``; falls back to the event's timestamp, then the
    local clock, only when Asterisk sent something unreadable.
    """
    for source, text in (
        ("creationtime", event.get("channel", {}).get("creationtime")),
        ("event timestamp", event.get("timestamp")),
    ):
        if text:
            try:
                return parse_creationtime(text), source
            except ValueError:
                continue
    return utcnow(), "local clock"


@dataclasses.dataclass
class Services:
    """What a call needs from the running service."""

    ari: object  # ari_.AriClient
    store: object  # store.StoreWorker
    config: object  # config.Config
    components: list = dataclasses.field(default_factory=list)
    # Set by stasis.Stasis: route a media channel's events to its creator.
    claim_channel: object = None
    release_channel: object = None

    def component(self, name):
        return next(
            (c for c in self.components if getattr(c, "name", "") == name), None
        )


class Call:
    """The state and the script of one caller's time in the application."""

    def __init__(
        self, services, channel, args, contact_at, contact_source, resumed=False
    ):
        self.services = services
        self.config = services.config
        self.ari = services.ari
        self.channel = channel
        self.channel_id = channel["id"]
        self.args = list(args)
        self.contact_at = contact_at
        self.contact_source = contact_source
        self.resumed = resumed
        self.ticket = None
        self.answers = {"site_down": None, "critical": None, "users": None}
        self.hangup_cause = None
        self._released = False  # True once we hung up or sent the call on
        self.finished = False
        self._keys = collections.deque()
        self._playbacks = {}  # playback id -> final state
        self._current_playback = None
        self._gone = False
        self._wakeup = asyncio.Event()
        self._ids = itertools.count(1)
        self._draining = False
        self._cut_short = False
        self._retry_prompt = None  # what to say before asking again
        self.voice = None  # ari_app.speech.voice.Voice while the caller can talk
        self._spoken = None  # a usable spoken answer not yet taken
        self._barge_in = False  # the caller started talking over a prompt
        self._describe_stop = None  # set by # or hangup while recording
        # From StasisStart reaching us to the ticket committed, in seconds.
        self.received = asyncio.get_running_loop().time()
        self.commit_latency = None

    # Events, fed by stasis.Stasis. They only record and wake the script.

    def key_pressed(self, digit):
        if self._describe_stop is not None and digit == "#":
            self._describe_stop.set()
        self._keys.append(digit)
        self._wakeup.set()

    def speech_started(self):
        self._barge_in = True
        self._wakeup.set()

    def speech_answered(self, answer):
        self._spoken = answer
        self._wakeup.set()

    def playback_finished(self, playback_id, state):
        self._playbacks[playback_id] = state
        self._wakeup.set()

    def hung_up(self, cause=None, by_caller=True):
        if self.hangup_cause is None and not self._released:
            who = "caller hung up" if by_caller else "hung up by Asterisk"
            self.hangup_cause = f"{who} ({describe_cause(cause)})"
        self._gone = True
        if self._describe_stop is not None:
            self._describe_stop.set()
        self._wakeup.set()

    def drain(self):
        """The service is stopping: finish quickly by sending the call on."""
        self._draining = True
        self._wakeup.set()

    @property
    def gone(self):
        return self._gone

    @property
    def current_playback(self):
        """The id of the prompt playing now, or None."""
        return self._current_playback

    # The script.

    async def run(self):
        try:
            await self._open_ticket()
        except Exception as exc:
            await self._no_ticket(exc)
            self.finished = True
            return
        try:
            await self._triage()
        except CallerHungUp:
            await self._record_end(abandoned=not self._triage_done())
        except AriError as exc:
            if exc.status == 0:  # Asterisk itself is gone (restart): no traceback
                logger.error("call %s: %s; its ticket is kept", self.channel_id, exc)
            else:
                logger.exception("call %s failed; its ticket is kept", self.channel_id)
            await self._after_failure()
        except Exception:
            logger.exception("call %s failed; its ticket is kept", self.channel_id)
            await self._after_failure()
        finally:
            await self._close_voice()
            self.finished = True

    async def _open_ticket(self):
        region = self.config.default_region
        dialed = self.args[1] if len(self.args) > 1 else ""
        caller = self.channel.get("caller", {})
        self.ticket, created = await self.services.store.run(
            open_call_ticket,
            self.channel_id,
            self.contact_at,
            self.contact_source,
            caller.get("number", ""),
            caller.get("name", ""),
            dialed,
            region,
            urgent=True,
        )
        self.commit_latency = asyncio.get_running_loop().time() - self.received
        if created:
            logger.info(
                "call %s: ticket %s committed %.1f ms after StasisStart, "
                "contact at %s (%s)",
                self.channel_id,
                self.ticket.reference,
                self.commit_latency * 1000,
                self.contact_at,
                self.contact_source,
            )
        else:
            self.resumed = True
            self._restore_answers()
            logger.info(
                "call %s: re-adopted with ticket %s",
                self.channel_id,
                self.ticket.reference,
            )
            await self._event("re_adopted", "the application reconnected to the call")

    def _restore_answers(self):
        self.answers = {
            "site_down": self.ticket.site_down,
            "critical": self.ticket.critical,
            "users": self.ticket.users_affected,
        }

    async def _triage(self):
        steps = self.ticket.steps()
        if "answered" not in steps:
            await self._answer()
        await self._open_voice()
        if not self.resumed and not self._draining:
            await self._prompt("greeting", step="greeting")
            await self._confirm_company()
        for field, prompt, step in QUESTIONS:
            if f"{field}_answered" in steps:
                continue  # answered before the service restarted
            if self._draining:
                self._cut_short = True
                await self._event(
                    "triage_cut_short",
                    "msp-intake was stopping; the caller was sent on unasked",
                )
                break
            if field == "users":
                value, detail = await self._ask_number(prompt, step)
            else:
                value, detail = await self._ask_choice(prompt, step, YES_NO)
            self.answers[field] = value
            await self._save_answer(field, value, detail)
        # The priority is set as soon as the three questions are answered: a
        # caller who hangs up while describing the problem is not abandoned.
        if "priority_set" not in steps:
            await self._set_priority()
        if "describe" not in steps:
            await self._describe()
        await self._finish()

    async def _answer(self):
        try:
            await self.ari.answer(self.channel_id)
        except ChannelGone:
            raise CallerHungUp from None
        await self._step("answered")

    # Prompts and keys.

    async def _prompt(self, name, step=None, interruptible=True):
        """Play one prompt; returns True when a key cut it short."""
        return await self.play(self.config.prompts[name], interruptible, name, step)

    async def play(self, media, interruptible=True, label=None, step=None):
        """Play ``media``; ``step`` is recorded once Asterisk accepted the play."""
        typed_ahead = self._keys or self._spoken is not None
        if step and interruptible and typed_ahead:
            await self._step(step, detail=f"{label} (skipped: caller typed ahead)")
        if interruptible and typed_ahead:
            return True  # the caller typed ahead: do not make them listen
        self._barge_in = False
        self._check_gone()
        playback_id = f"{self.channel_id}-pb{next(self._ids)}"
        try:
            await self.ari.play(self.channel_id, media, playback_id)
        except (ChannelGone, NotInStasis):
            raise CallerHungUp from None
        if step:
            await self._step(step, detail=label or media)
        self._current_playback = playback_id
        try:
            return await self._wait_playback(playback_id, interruptible, label or media)
        finally:
            self._current_playback = None

    async def _wait_playback(self, playback_id, interruptible, label):
        deadline = asyncio.get_running_loop().time() + PLAYBACK_LIMIT
        while True:
            state = self._playbacks.pop(playback_id, None)
            if state is not None:
                self._check_gone()
                if state == "failed":
                    logger.warning(
                        "call %s: prompt %s failed to play (missing sound file?)",
                        self.channel_id,
                        label,
                    )
                    await self._event("prompt_failed", label)
                return False
            self._check_gone()
            if interruptible and (self._keys or self._barge_in or self._spoken):
                # Asterisk does not stop a prompt for keys or speech: we do.
                await self._stop_playback(playback_id)
                return True
            if self._draining:
                await self._stop_playback(playback_id)
                return False
            if not await self._sleep_until(deadline):
                logger.warning(
                    "call %s: no end of prompt %s after %.0f s",
                    self.channel_id,
                    label,
                    PLAYBACK_LIMIT,
                )
                return False

    async def _stop_playback(self, playback_id):
        try:
            await self.ari.stop_playback(playback_id)
        except AriError as exc:
            if exc.status != 404:  # 404: it had just finished on its own
                logger.warning("call %s: stopping prompt: %s", self.channel_id, exc)

    async def _sleep_until(self, deadline):
        """Wait for any event until the deadline; False when it passed."""
        remaining = deadline - asyncio.get_running_loop().time()
        if remaining <= 0:
            return False
        self._wakeup.clear()
        try:
            await asyncio.wait_for(self._wakeup.wait(), remaining)
        except TimeoutError:
            return False
        return True

    async def next_key(self, timeout):
        """The next key pressed within ``timeout`` seconds, or None.

        None also when a spoken answer arrived first (see ``_take_spoken``).
        """
        deadline = asyncio.get_running_loop().time() + timeout
        while not self._keys:
            if self._spoken is not None:
                return None
            self._check_gone()
            if self._draining or not await self._sleep_until(deadline):
                self._check_gone()
                return None
        return self._keys.popleft()

    def _check_gone(self):
        if self._gone:
            raise CallerHungUp

    async def _ask_choice(self, prompt, step, choices):
        asks = self.config.triage.asks
        for attempt in range(asks):
            async with self._listening(step):
                await self._reprompt(prompt, step, attempt)
                key = await self.next_key(self.config.triage.answer_timeout)
            spoken = self._take_spoken()
            if key in choices:
                return choices[key], f"{step}: key {key}"
            if spoken is not None:
                return self._spoken_answer(step, spoken)
            await self._event(
                "no_answer" if key is None else "invalid_key",
                f"{step}: {key or 'nothing'} (ask {attempt + 1} of {asks})",
            )
            self._note_retry(key)
        return None, f"{step}: unknown after {asks} asks"

    async def _ask_number(self, prompt, step):
        asks = self.config.triage.asks
        for attempt in range(asks):
            async with self._listening(step):
                await self._reprompt(prompt, step, attempt)
                digits, problem = await self._collect_digits()
            spoken = self._take_spoken()
            if problem is None:
                return int(digits), f"{step}: {digits}"
            if spoken is not None:
                return self._spoken_answer(step, spoken)
            await self._event(
                "no_answer" if problem == "nothing" else "invalid_key",
                f"{step}: {problem} (ask {attempt + 1} of {asks})",
            )
            self._note_retry(None if problem == "nothing" else problem)
        return None, f"{step}: unknown after {asks} asks"

    async def _collect_digits(self):
        """Digits ended by # (or a pause after the last digit)."""
        triage_settings = self.config.triage
        digits = ""
        key = await self.next_key(triage_settings.answer_timeout)
        while key is not None:
            if key == "#":
                break
            if not key.isdigit():
                self._keys.clear()
                return digits, f"key {key}"
            digits += key
            if len(digits) > MAX_USER_DIGITS:
                self._keys.clear()
                return digits, "too many digits"
            key = await self.next_key(triage_settings.digit_timeout)
        if not digits:
            return digits, "nothing" if key is None else "# with no digits"
        return digits, None

    async def _reprompt(self, prompt, step, attempt):
        if attempt == 0:
            await self._prompt(prompt, step=step)
            return
        if self._retry_prompt == "invalid":
            # Heard to the end; keys still arriving belong to the bad answer.
            await self._prompt("invalid", interruptible=False)
            self._keys.clear()
        elif self._retry_prompt:
            await self._prompt(self._retry_prompt)
        await self._prompt(prompt)

    # Voice answers (only when the speech component could open one for the call).

    async def _open_voice(self):
        component = self.services.component("speech")
        if component is None or self.voice is not None:
            return
        self.voice = await component.open_voice(self)
        if self.voice is None:
            detail = component.unavailable_reason or "no media"
            await self._update(
                speech="unavailable",
                event="speech_unavailable",
                detail=f"{detail}: keypad only",
            )
        else:
            await self._update(speech="voice")

    async def _close_voice(self):
        voice, self.voice = self.voice, None
        if voice is None:
            return
        try:
            await voice.close()
        except Exception:
            logger.exception("call %s: closing the speech leg failed", self.channel_id)

    @contextlib.asynccontextmanager
    async def _listening(self, step):
        self._spoken = None
        if self.voice is None:
            yield
            return
        async with self.voice.question(FIELD_OF_STEP[step], self):
            yield

    def _take_spoken(self):
        spoken, self._spoken = self._spoken, None
        return spoken

    def _spoken_answer(self, step, spoken):
        self._keys.clear()
        detail = f"{step}: said {spoken.text!r} (confidence {spoken.confidence:.2f})"
        return spoken.value, detail

    async def _confirm_company(self):
        """ "I have you as Acme Dental": rendered on demand, never holding the call."""
        component = self.services.component("speech")
        if component is None or self.ticket.company_id is None:
            return
        name = await self.services.store.run(_company_name, self.ticket.company_id)
        media = await component.company_prompt(
            name, self.config.prompts["matched"], self.channel_id
        )
        await self.play(media, label="company")

    async def _describe(self):
        """The caller's own words: recorded, transcribed, kept on the ticket."""
        if self.voice is None or self._draining:
            return
        self._keys.clear()
        self._spoken = None
        self._describe_stop = asyncio.Event()
        try:
            # Recording starts with the prompt: callers answer over it, and
            # their first words matter most. Talking (or #) stops the prompt.
            recording = await self.voice.start_describing(self)
            try:
                await self._prompt("describe", step="describe")
            except CallerHungUp:
                self._describe_stop.set()  # keep what was said over the prompt
            transcript = await self.voice.describe(recording, self._describe_stop)
        except OSError as exc:
            logger.warning("call %s: recording failed: %s", self.channel_id, exc)
            self._check_gone()
            return
        finally:
            self._describe_stop = None
            self._keys.clear()
        # Kept even when the caller hung up part-way: their words so far count.
        await self._update(
            event="described",
            detail=f"{transcript.seconds:.0f} s, confidence {transcript.confidence}",
            transcript=transcript.text or None,
            transcript_confidence=transcript.confidence if transcript.text else None,
            recording_path=transcript.recording_path,
        )
        await self._raise_from_transcript(self.voice)
        if transcript.frames_dropped and transcript.pcm:
            # Live recognition fell behind (many callers at once): hear the
            # whole recording again, without holding the caller for it.
            voice = self.voice
            voice.after_call(
                self._transcribe_after_call(voice, transcript),
                f"call {self.channel_id}: transcript after the call",
            )
        self._check_gone()

    async def _transcribe_after_call(self, voice, live):
        text, confidence = await voice.transcribe_recording(live.pcm)
        seconds = live.frames_dropped * 0.02
        await self._update(
            event="transcribed_after_call",
            detail=f"live recognition missed {seconds:.1f} s of "
            f"{live.seconds:.1f} s; {len(text.split())} words now, "
            f"{len(live.text.split())} live",
            transcript=text or live.text or None,
            transcript_confidence=confidence if text else live.confidence or None,
        )
        logger.info(
            "call %s: ticket %s transcript made after the call (%d frames missed)",
            self.channel_id,
            self.ticket.reference,
            live.frames_dropped,
        )
        await self._raise_from_transcript(voice)

    async def _raise_from_transcript(self, voice):
        """The caller's words can raise the priority set by the keypad, never lower."""
        if not self.ticket.transcript or self.ticket.priority is None:
            return
        priority, why = voice.raise_priority(
            self.ticket.priority, self.ticket.transcript
        )
        if why is None:
            return
        reason = f"{self.ticket.priority_reason}; {why}"
        await self._update(
            event="priority_raised",
            detail=f"{priority}: {why}",
            priority=priority,
            priority_reason=reason,
        )
        logger.info(
            "call %s: ticket %s raised to %s (%s)",
            self.channel_id,
            self.ticket.reference,
            priority,
            why,
        )

    async def _update(self, event=None, detail="", **fields):
        self.ticket = await self.services.store.run(
            store.update_ticket, self.ticket.id, event=event, detail=detail, **fields
        )

    def _note_retry(self, key):
        self._keys.clear()  # whatever else was typed belonged to the bad answer
        self._retry_prompt = "no_answer" if key is None else "invalid"

    # The ticket.

    async def _step(self, step, detail=""):
        self.ticket = await self.services.store.run(
            store.update_ticket, self.ticket.id, event=step, detail=detail, step=step
        )

    async def _event(self, kind, detail=""):
        await self.services.store.run(store.record_event, self.ticket.id, kind, detail)

    async def _save_answer(self, field, value, detail):
        column = "users_affected" if field == "users" else field
        self.ticket = await self.services.store.run(
            store.update_ticket,
            self.ticket.id,
            event="answer",
            detail=detail,
            step=f"{field}_answered",
            **{column: value},
        )

    def _triage_done(self):
        return self.ticket is not None and "priority_set" in self.ticket.steps()

    async def _set_priority(self):
        answers = triage.Answers(**self.answers)
        settings = self.config.triage
        priority, reason = triage.decide(
            answers, settings.priority_rules, settings.default_priority
        )
        if self._cut_short:
            reason = f"{reason}; triage cut short: msp-intake was stopping"
        self.ticket = await self.services.store.run(
            store.update_ticket,
            self.ticket.id,
            event="priority_set",
            detail=f"{priority}: {reason}",
            step="priority_set",
            priority=priority,
            priority_reason=reason,
            status=models.OPEN,
            symptom=self.ticket.symptom or summarize(answers),
            affected_system=self.ticket.affected_system or affected_system(answers),
        )
        logger.info(
            "call %s: ticket %s is %s (%s)",
            self.channel_id,
            self.ticket.reference,
            priority,
            reason,
        )

    async def _finish(self):
        """Tell the dialplan and the caller the outcome, then let the call go."""
        try:
            await self.ari.set_variable(
                self.channel_id, "MSP_TICKET_ID", self.ticket.reference
            )
            await self.ari.set_variable(
                self.channel_id, "MSP_PRIORITY", self.ticket.priority
            )
        except (ChannelGone, NotInStasis):
            raise CallerHungUp from None
        if not self._draining:
            await self._step("read_back", detail=self.ticket.reference)
            await self._prompt("ticket_number", interruptible=False)
            await self.play(f"digits:{self.ticket.id}", interruptible=False)
            await self._prompt("goodbye", interruptible=False)
        await self._release()
        await self._record_end(abandoned=False)

    async def _release(self):
        settings = self.config.triage
        try:
            if settings.after == "continue" or self._draining:
                self.hangup_cause = (
                    f"sent on to the dialplan ({settings.continue_context})"
                )
                self._released = True
                await self.ari.continue_in_dialplan(
                    self.channel_id,
                    settings.continue_context,
                    settings.continue_extension,
                    settings.continue_priority,
                )
                await self._event(
                    "continued",
                    f"to {settings.continue_context},"
                    f"{settings.continue_extension},"
                    f"{settings.continue_priority}",
                )
            else:
                self.hangup_cause = "msp-intake hung up after triage"
                self._released = True
                await self.ari.hangup(self.channel_id)
        except (ChannelGone, NotInStasis):
            pass  # the caller hung up first: that is the end we wanted anyway

    async def _record_end(self, abandoned):
        if self.ticket is None:
            return
        fields = {"ended_at": utcnow(), "hangup_cause": self.hangup_cause}
        detail = self.hangup_cause or "left the application"
        if abandoned:
            fields.update(self._partial_priority())
            fields["status"] = models.ABANDONED
            detail = f"caller hung up during triage; {detail}"
        self.ticket = await self.services.store.run(
            store.update_ticket,
            self.ticket.id,
            event="ended",
            detail=detail,
            step="ended",
            **fields,
        )
        logger.info(
            "call %s: ended, ticket %s %s",
            self.channel_id,
            self.ticket.reference,
            self.ticket.status,
        )

    def _partial_priority(self):
        return partial_priority(triage.Answers(**self.answers), self.config.triage)

    async def _after_failure(self):
        """A bug in the flow: keep the ticket, send the caller on, never drop them.

        The ticket's end is written first: if Asterisk is unreachable too, the
        ticket must not stay ``in_call``.
        """
        if self.ticket is None:
            return
        try:
            await self._event("flow_error", "the IVR failed; caller sent on")
            await self._record_end(abandoned=not self._triage_done())
        except Exception:
            logger.exception("call %s: could not record the end", self.channel_id)
        if not self._gone:
            self._draining = True
            try:
                await self._release()
            except AriError as exc:
                logger.error(
                    "call %s: could not send the caller on: %s", self.channel_id, exc
                )

    async def _no_ticket(self, exc):
        """The store refused the ticket (locked, full, read-only disk).

        The contact is not lost: it goes to the spool file, which the service
        turns into a ticket once the store accepts writes again. The caller is
        not left ringing: they go on to the fallback, a person or voicemail.
        """
        caller = self.channel.get("caller", {})
        contact = {
            "channel_id": self.channel_id,
            "contact_at": self.contact_at.isoformat(timespec="milliseconds"),
            "caller_number": caller.get("number", ""),
            "caller_name": caller.get("name", ""),
            "dialed": self.args[1] if len(self.args) > 1 else "",
            "reason": f"{type(exc).__name__}: {exc}",
        }
        where = await asyncio.to_thread(spool.append, self.config.spool_path, contact)
        logger.error(
            "call %s: ticket not committed (%s); contact %s; caller sent to %s",
            self.channel_id,
            contact["reason"],
            f"spooled to {where}" if where else f"only in this log: {contact}",
            self.config.triage.failure_context,
        )
        try:
            await self.ari.set_variable(
                self.channel_id, "MSP_INTAKE_STATUS", "NO_TICKET"
            )
            await self.ari.continue_in_dialplan(
                self.channel_id, self.config.triage.failure_context, "s", 1
            )
        except AriError as error:
            if not isinstance(error, ChannelGone | NotInStasis):
                logger.error(
                    "call %s: could not send the caller on: %s", self.channel_id, error
                )


def partial_priority(answers, settings):
    """An abandoned call keeps a priority only if the caller told us something."""
    if answers.all_unknown:
        return {}
    priority, reason = triage.decide(
        answers, settings.priority_rules, settings.default_priority
    )
    return {"priority": priority, "priority_reason": f"{reason}, from a partial triage"}


def _company_name(company_id):
    return models.Company.get_by_id(company_id).name


def summarize(answers):
    """One line a technician reads on the board, from the keypad answers."""
    site = {True: "whole site down", False: "not the whole site"}
    critical = {True: "critical system involved", False: "no critical system"}
    parts = [
        site.get(answers.site_down, "site-wide unknown"),
        critical.get(answers.critical, "critical system unknown"),
        "users affected unknown"
        if answers.users is None
        else f"{answers.users} user(s) affected",
    ]
    return "Phone triage: " + "; ".join(parts)


def affected_system(answers):
    if answers.critical:
        return "critical system (server, internet line, phones or business app)"
    return None


def open_call_ticket(
    channel_id, contact_at, contact_source, caller_number, caller_name, dialed, region
):
    """Match the caller and commit the ticket, in the store thread, in one go."""
    caller = directory.normalize(caller_number, region)
    match = directory.match_caller(caller, dialed, region)
    flag = caller.flag
    if match.company is None and flag is None:
        flag = models.UNKNOWN_CALLER
    ticket, created = store.open_ticket(
        channel_id,
        contact_at,
        caller_number=caller_number or "",
        caller_e164=caller.e164,
        caller_name=caller_name or "",
        caller_flag=flag,
        dialed_number=dialed or "",
        company=match.company,
        contact=match.contact,
        matched_by=match.matched_by,
        steps_reached="ticket_opened",
    )
    if created and contact_source != "creationtime":
        store.record_event(
            ticket.id,
            "contact_time_fallback",
            f"contact time taken from the {contact_source}",
        )
    return ticket, created
