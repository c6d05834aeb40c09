"""The sync worker: drains the outbox into the PSA, in its own thread.

One thread, one request at a time: a ticket's changes reach the PSA in the
order they happened, and a PSA that is down sees one probe per backoff step
rather than a thousand. The loop, each turn:

1. take the oldest due outbox row whose ticket has nothing older waiting;
2. no PSA ticket yet: if an earlier attempt may have reached the PSA, look the
   ticket up by our reference first; create it only if it is not there. A
   create that got no answer (a timeout, a connection dropped after sending,
   the service killed mid-request) may still commit at the PSA later, so the
   create is not repeated until ``create_holdoff`` seconds after it, and only
   after a lookup made then;
3. a PSA ticket already: send what changed since the PSA was last told, as a
   patch (priority) and notes, recording each step as it succeeds;
4. on failure: a refusal parks the row (other tickets go on); anything else
   pauses the whole sync with exponential backoff and jitter, or for exactly
   the ``Retry-After`` the PSA asked for; an error nobody foresaw (an odd
   answer, a bug) parks that row too, with a traceback in the log: the thread
   never stops for one ticket;
5. when idle: read back first responses, pull the directory when it is due.

Every turn records a heartbeat (``worker_seen_at`` in ``psa_state``, at most
every ``HEARTBEAT`` seconds) so that ``sync status``, in another process, can
tell a running sync from a stopped one.

Store writes go through ``write`` so that, in the service, they run in the
store's own thread (SQLite has one writer); reads use this thread's connection.
"""

import json
import logging
import random
import threading
import time

from .. import models
from ..exceptions import MspIntakeError
from ..models import IN_CALL, OPEN, Ticket, utcnow
from . import directory_sync, first_response, outbox
from .connectors.base import changes_between, created_snapshot
from .exceptions import (
    PsaAuthError,
    PsaError,
    PsaRejected,
    PsaThrottled,
    PsaTimeout,
)
from .models import PsaLink, delete_state, set_state

logger = logging.getLogger(__name__)

IDLE_POLL = 1.0  # seconds between outbox polls when nothing woke us
# After a wake-up the row may not be committed yet (the listener runs inside
# the ticket's transaction): look again this often, for this long.
SETTLE_STEP = 0.003
SETTLE_FOR = 0.5
RESPONSE_BATCH = 100
HEARTBEAT = 10.0  # seconds between heartbeat writes
# After an unexpected error outside any one delivery, wait this long: a store
# that keeps failing must not turn the loop into a busy one.
ERROR_PAUSE = 5.0
RESPONSE_WINDOW_DAYS = 14


class CreateHeldOff(Exception):
    """Not an error: a create is held back while an earlier one may commit."""

    def __init__(self, seconds):
        super().__init__(seconds)
        self.seconds = seconds


def direct_write(function):
    """Run a store change in this thread, in one transaction."""
    with models.database.atomic():
        return function()


def backoff(failures, initial, maximum):
    """Seconds before the next try after ``failures`` failures in a row.

    Exponential, capped, with "equal jitter": between half and all of the step,
    so many services restarting together do not probe the PSA in lockstep.
    """
    step = min(maximum, initial * (2 ** max(0, failures - 1)))
    return random.uniform(step / 2, step)


class SyncWorker:
    def __init__(self, settings, connector, *, write=direct_write):
        self.settings = settings
        self.connector = connector
        self.write = write
        self.failures = 0
        self.paused_until = 0.0  # time.monotonic()
        self._stop = threading.Event()
        self._thread = None
        self._next_responses = time.monotonic() + min(5.0, settings.response_poll)
        self._next_directory = time.monotonic()
        self._next_prune = time.monotonic()
        self._retry_seen = None
        self._next_beat = 0.0

    # Lifecycle.

    def start(self):
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"psa-sync-{self.settings.type}", daemon=True
        )
        self._thread.start()
        logger.info("psa sync to %s started", self.settings.type)

    def stop(self, timeout=10.0):
        """Stop after the request in flight (bounded by the PSA timeout)."""
        self._stop.set()
        outbox.wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                logger.warning("psa sync thread still busy after %.0f s", timeout)
            self._thread = None
        logger.info("psa sync to %s stopped", self.settings.type)

    @property
    def running(self):
        return self._thread is not None and self._thread.is_alive()

    def _run(self):
        try:
            while not self._stop.is_set():
                try:
                    busy = self.step()
                except Exception:
                    # A bug or a store that failed, outside any one delivery: say so
                    # loudly and go on, since tickets keep arriving.
                    logger.exception("psa sync: unexpected error; going on")
                    self._stop.wait(ERROR_PAUSE)
                    continue
                if not busy:
                    self._idle()
        finally:
            self.connector.close()
            models.database.close()

    def _idle(self):
        wait = IDLE_POLL
        if self.paused:
            wait = min(wait, self.paused_until - time.monotonic())
        woke = outbox.wakeup.wait(max(0.0, wait))
        outbox.wakeup.clear()
        if not woke or self.paused:
            return
        deadline = time.monotonic() + SETTLE_FOR
        while time.monotonic() < deadline and not self._stop.is_set():
            if outbox.next_due() is not None:
                return
            time.sleep(SETTLE_STEP)

    @property
    def paused(self):
        return time.monotonic() < self.paused_until

    # One turn of the loop.

    def step(self):
        """Do one piece of work; False when there was none to do."""
        self._heartbeat()
        if self.paused and not self._retry_requested():
            return False
        item = outbox.next_due()
        if item is not None:
            self.deliver(item)
            return True
        return self._housekeeping()

    def _housekeeping(self):
        now = time.monotonic()
        if self.settings.response_poll and now >= self._next_responses:
            self._next_responses = now + self.settings.response_poll
            self.read_responses()
            return True
        if self.settings.directory_interval and now >= self._next_directory:
            self._next_directory = now + self.settings.directory_interval
            self.sync_directory()
            return True
        if now >= self._next_prune:
            self._next_prune = now + 3600
            self.write(outbox.prune)
        return False

    def _heartbeat(self):
        now = time.monotonic()
        if now >= self._next_beat:
            self._next_beat = now + HEARTBEAT
            self.write(lambda: set_state("worker_seen_at", utcnow().isoformat()))

    def _retry_requested(self):
        """``sync retry`` (another process) lifts the pause through the store."""
        requested = _state("retry_requested_at")
        if requested and requested != self._retry_seen:
            self._retry_seen = requested
            self.paused_until = 0.0
            return True
        return False

    # Delivery.

    def deliver(self, item):
        ticket_id = item.ticket_id
        covered = outbox.last_pending_id(ticket_id) or item.id
        link, attempted = self.write(lambda: self._start_attempt(item))
        try:
            ticket = Ticket.get_by_id(ticket_id)
            if link.psa_ticket_id is None:
                # Then, at once, what the create did not carry (or, for a found
                # ticket, everything): the transcript and recording notes.
                self._create(ticket, link, attempted)
            self._update(ticket, link, covered)
        except CreateHeldOff as held:
            self._hold(item, held.seconds)
            return
        except PsaRejected as exc:
            self._park(item, exc)
            return
        except PsaError as exc:
            self._retry(item, exc)
            return
        except Exception as exc:
            # Nothing foreseen: park this ticket, keep the others going.
            logger.exception(
                "ticket %s: unexpected error delivering to the PSA", ticket_id
            )
            self._park(item, PsaRejected(f"unexpected error: {_one_line(exc)}"))
            return
        self.failures = 0
        self.write(lambda: self._done(ticket_id, covered, link))

    def _start_attempt(self, item):
        # Committed before the request goes out: if we die mid-request, the next
        # attempt sees an attempt was made and looks the ticket up first.
        outbox.mark_sending(item)
        link, created = PsaLink.get_or_create(
            ticket=item.ticket_id, defaults={"psa": self.settings.type}
        )
        return link, not created and link.psa_ticket_id is None

    def _create(self, ticket, link, attempted):
        """Create the PSA ticket, or find the one an earlier attempt made.

        True when it was found: the PSA then holds whatever that attempt sent,
        which may be older than the ticket is now, so the caller sends it all.
        """
        unsure = _parse(_state(_unsure_key(ticket.id)))
        looked_up = attempted or unsure is not None
        psa_id = self.connector.find(ticket) if looked_up else None
        found = psa_id is not None
        if found:
            logger.info(
                "ticket %s: found PSA ticket %s from an earlier attempt",
                ticket.id,
                psa_id,
            )
            # Not known what that attempt carried: claim nothing was sent, so the
            # update brings priority, answers and the rest up to date.
            link.sent = "{}"
        else:
            self._check_holdoff(ticket, unsure)
            psa_id = self._send_create(ticket)
            link.sent = json.dumps(created_snapshot(ticket))
        link.psa_ticket_id = psa_id
        link.created_at = utcnow()
        # Saved with the outbox rows it covers, in one transaction (``_done``); if
        # we die before that, the next attempt finds the ticket by our reference.
        return found

    def _check_holdoff(self, ticket, unsure):
        """Raise CreateHeldOff while an unanswered create may still commit.

        The lookup just made found nothing; the one after the hold-off is the
        last before a new create.
        """
        if unsure is None:
            return
        wait = self.settings.create_holdoff - (utcnow() - unsure).total_seconds()
        if wait > 0:
            raise CreateHeldOff(wait)

    def _send_create(self, ticket):
        # Marked before it goes out, so that a kill mid-request also holds off.
        key = _unsure_key(ticket.id)
        self.write(lambda: set_state(key, utcnow().isoformat()))
        try:
            psa_id = self.connector.create(
                ticket, delivery=f"{ticket.reference}:created"
            )
        except PsaTimeout:
            # The hold-off counts from now, when we stopped waiting for it.
            self.write(lambda: set_state(key, utcnow().isoformat()))
            raise
        except PsaError:
            self.write(lambda: delete_state(key))  # a clear answer: not created
            raise
        logger.info("ticket %s: created PSA ticket %s", ticket.id, psa_id)
        return psa_id

    def _hold(self, item, seconds):
        logger.warning(
            "ticket %s: an earlier create got no answer and is not in the PSA "
            "yet; looking again in %.0f s before creating it",
            item.ticket_id,
            seconds,
        )
        message = (
            "an earlier create got no answer; waiting for it to show up in "
            "the PSA before creating again"
        )
        self.write(lambda: outbox.mark_retry(item, message, seconds))

    def _update(self, ticket, link, covered):
        sent = json.loads(link.sent or "{}")
        steps = self.connector.plan(changes_between(sent, ticket))
        for step in steps:
            delivery = f"{ticket.reference}:update:{covered}:{step.kind}"
            self.connector.apply(link.psa_ticket_id, ticket, step, delivery)
            sent.update(step.covers)
            link.sent = json.dumps(sent)
            self.write(link.save)
        if steps:
            logger.info(
                "ticket %s: updated PSA ticket %s (%s)",
                ticket.id,
                link.psa_ticket_id,
                ", ".join(step.kind for step in steps),
            )

    def _done(self, ticket_id, covered, link):
        link.save()
        delete_state(_unsure_key(ticket_id))
        outbox.mark_done(ticket_id, covered)
        set_state("last_success_at", utcnow().isoformat())

    def _park(self, item, exc):
        logger.warning("ticket %s: parked: %s", item.ticket_id, exc)

        def park():
            outbox.park(item, exc.message)
            set_state("last_error", f"ticket {item.ticket_id}: {exc.message}")
            set_state("last_error_at", utcnow().isoformat())

        self.write(park)

    def _retry(self, item, exc):
        self.failures += 1
        delay = backoff(
            self.failures, self.settings.backoff_initial, self.settings.backoff_max
        )
        if isinstance(exc, PsaThrottled) and exc.retry_after is not None:
            delay = exc.retry_after  # the PSA said how long; no less, no jitter
        self.paused_until = time.monotonic() + delay
        hint = (
            " (check the credentials in the secrets file)"
            if isinstance(exc, PsaAuthError)
            else ""
        )
        logger.warning(
            "ticket %s: PSA request failed: %s%s; retry %d in %.1f s",
            item.ticket_id,
            exc,
            hint,
            self.failures,
            delay,
        )

        def retry():
            outbox.mark_retry(item, str(exc), delay)
            set_state("last_error", f"ticket {item.ticket_id}: {exc}")
            set_state("last_error_at", utcnow().isoformat())
            set_state("paused_for", f"{delay:.1f}")

        self.write(retry)

    # First responses read back from the PSA.

    def read_responses(self):
        """Ask the PSA about open tickets it has not yet counted as responded."""
        for link in self._links_to_check():
            try:
                state = self.connector.first_response(link.psa_ticket_id)
            except PsaError as exc:
                logger.warning(
                    "ticket %s: first-response read-back failed: %s",
                    link.ticket_id,
                    exc,
                )
                return
            if state is None:
                continue
            self._record_response(link, state)

    def _links_to_check(self):
        cutoff = utcnow() - _days(RESPONSE_WINDOW_DAYS)
        query = (
            PsaLink.select()
            .join(Ticket)
            .where(
                PsaLink.psa_ticket_id.is_null(False),
                PsaLink.first_response_at.is_null(),
                Ticket.status.in_((OPEN, IN_CALL)),
                Ticket.contact_at >= cutoff,
            )
            .order_by(PsaLink.response_checked_at.asc(nulls="first"), PsaLink.id)
            .limit(RESPONSE_BATCH)
        )
        return list(query)

    def _record_response(self, link, state):
        now = utcnow()
        responded = state.responded_at is not None or (
            state.status in self.settings.responded_statuses
        )
        link.response_checked_at = now
        if responded:
            # The PSA's clock is not the PBX's and keeps whole seconds: keep the
            # time between the contact and now, so the SLA clock can take it.
            contact_at = link.ticket.contact_at
            at = min(max(state.responded_at or now, contact_at), now)
            link.first_response_at = at
            link.first_response_by = state.by or f"PSA status {state.status}"
        self.write(link.save)
        if responded:
            logger.info(
                "ticket %s: first response in the PSA at %s by %s",
                link.ticket_id,
                link.first_response_at,
                link.first_response_by,
            )
            self._report_response(link)

    def _report_response(self, link):
        def report():
            first_response.record(
                link.ticket_id, link.first_response_at, link.first_response_by, "psa"
            )

        try:
            self.write(report)
        except MspIntakeError as exc:  # the SLA clock refused it; the link keeps it
            logger.warning(
                "ticket %s: first response not recorded on the SLA clock: %s",
                link.ticket_id,
                exc,
            )

    # The directory.

    def sync_directory(self):
        full_every = self.settings.directory_full_interval
        last_full = _parse(_state("directory_full_at"))
        full = last_full is None or (
            full_every and (utcnow() - last_full).total_seconds() >= full_every
        )
        try:
            directory_sync.run(
                self.connector, self.settings.region, full=bool(full), write=self.write
            )
        except PsaError as exc:
            logger.warning("directory sync from %s failed: %s", self.settings.type, exc)


def _unsure_key(ticket_id):
    """The ``psa_state`` key holding when an unanswered create of it went out."""
    return f"create_unsure:{ticket_id}"


def _one_line(exc):
    """``KeyError: 'id'``: the error's type and first line, for ``sync status``."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


def _days(count):
    import datetime

    return datetime.timedelta(days=count)


def _state(key):
    from .models import get_state

    return get_state(key)


def _parse(text):
    import datetime

    return datetime.datetime.fromisoformat(text) if text else None
