"""The SLA clock: due times from the contact time, and first responses.

Every ticket's clock starts at ``Ticket.contact_at``, the time the PBX created
the caller's channel, never when the ticket row was written or synced. Its due
times come from the client's policy for the ticket's priority and are stored on
the ticket; ``recompute`` runs inside every ticket change (through
``store.on_ticket_change``), so a new priority, a new client match or a
first response moves them at once, always from the same contact time.

The first response arrives from the PSA sync, from ``msp-intake ack``, and from
on-call paging when an engineer accepts a page; all three call
``record_first_response``. Waiting-on-client spans pause only the resolution
clock.
"""

import collections
import dataclasses
import datetime
import logging

from .. import board, directory, models, store
from ..models import Company, Ticket, utcnow
from .exceptions import SlaError
from .models import AT_RISK as MARK_AT_RISK
from .models import BREACHED as MARK_BREACHED
from .models import FIRST_RESPONSE, RESOLUTION, SlaEvent, SlaPause

logger = logging.getLogger(__name__)

# sla_state values, as ``tickets --json`` shows them.
RUNNING = "running"
AT_RISK = "at_risk"
MET = "met"
BREACHED = "breached"

# How far ahead of this machine's clock a reported response time may be; the PSA
# and the PBX keep their own clocks and a few seconds of skew is normal.
_CLOCK_SKEW = datetime.timedelta(minutes=2)

# SQLite's largest integer: no ticket id can be above it.
_LARGEST_ID = 2**63 - 1

_settings = None


def install(settings):
    """Use ``settings`` (``policies.SlaSettings``) for every ticket from now on."""
    global _settings
    _settings = settings
    store.on_ticket_change(_ticket_changed)
    board.add_ticket_fields(ticket_fields)


def current_settings():
    if _settings is None:
        raise SlaError("the SLA clock is not configured (call services.install)")
    return _settings


# -- due times ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Clock:
    """What the policy says for one ticket; every time is naive UTC."""

    policy: str | None = None
    first_response_due: datetime.datetime | None = None
    first_response_risk_at: datetime.datetime | None = None
    first_response_seconds: float | None = None
    resolution_due: datetime.datetime | None = None
    resolution_risk_at: datetime.datetime | None = None

    def fields(self):
        return {
            "sla_policy": self.policy,
            "first_response_due": self.first_response_due,
            "first_response_risk_at": self.first_response_risk_at,
            "first_response_seconds": self.first_response_seconds,
            "resolution_due": self.resolution_due,
            "resolution_risk_at": self.resolution_risk_at,
        }


def compute_clock(
    settings, contact_at, priority, company_name, first_response_at=None, pauses=()
):
    """Due times for a contact; a ticket without a priority has no clock yet."""
    policy = settings.policy_for(company_name)
    target = policy.target(priority)
    if target is None or contact_at is None:
        return Clock()
    calendar = target.calendar
    share = settings.at_risk_share
    first = target.first_response_seconds()
    resolution = target.resolution_seconds()
    spent = None
    if first_response_at is not None:
        spent = calendar.elapsed(contact_at, first_response_at)
    return Clock(
        policy=policy.name,
        first_response_due=calendar.add(contact_at, first),
        first_response_risk_at=calendar.add(contact_at, first * share),
        first_response_seconds=spent,
        resolution_due=paused_due(calendar, contact_at, resolution, pauses),
        resolution_risk_at=paused_due(calendar, contact_at, resolution * share, pauses),
    )


def paused_due(calendar, start, seconds, pauses):
    """When ``seconds`` of open, unpaused time have passed since ``start``.

    Pauses count in open time too: two business hours waiting on the client move
    the due time two business hours later. A pause still open before the due
    time stops the clock, so there is no due time (None) until it ends.
    """
    spans = _merged(pauses)
    due = calendar.add(start, seconds)
    for _ in range(len(spans) + 1):
        paused = 0.0
        for pause_start, pause_end in spans:
            if pause_start >= due:
                break
            if pause_end is None:
                return None
            paused += calendar.elapsed(max(pause_start, start), min(pause_end, due))
        moved = calendar.add(start, seconds + paused)
        if moved == due:
            break
        due = moved
    return due


def _merged(pauses):
    spans = []
    for start, end in sorted(pauses, key=lambda span: span[0]):
        if spans and (spans[-1][1] is None or start <= spans[-1][1]):
            last_start, last_end = spans[-1]
            if last_end is not None and (end is None or end > last_end):
                spans[-1] = (last_start, end)
            continue
        spans.append((start, end))
    return spans


def pauses_of(ticket_id):
    query = SlaPause.select(SlaPause.started_at, SlaPause.ended_at)
    return list(query.where(SlaPause.ticket == ticket_id).tuples())


_LOOK_UP = object()


def recompute(ticket, settings=None, company_name=_LOOK_UP, pauses=None):
    """Store the ticket's due times; return True if any of them changed.

    ``recompute_all`` passes the company name and pauses it loaded in bulk.
    """
    settings = settings or current_settings()
    if company_name is _LOOK_UP:
        company_name = None
        if ticket.company_id:
            company_name = Company.get_by_id(ticket.company_id).name
    if pauses is None:
        pauses = pauses_of(ticket.id)
    clock = compute_clock(
        settings,
        ticket.contact_at,
        ticket.priority,
        company_name,
        ticket.first_response_at,
        pauses,
    )
    changed = {k: v for k, v in clock.fields().items() if getattr(ticket, k) != v}
    if not changed:
        return False
    Ticket.update(**changed).where(Ticket.id == ticket.id).execute()
    for name, value in changed.items():
        setattr(ticket, name, value)
    _forget_marks(ticket, utcnow())
    logger.debug("MSP-%s SLA clock now %s", ticket.id, changed)
    return True


def _forget_marks(ticket, now):
    """A later due time (a lower priority, a pause) can undo an at-risk or breach
    mark; an undone mark may fire again against the new time."""
    thresholds = {
        (FIRST_RESPONSE, MARK_AT_RISK): ticket.first_response_risk_at,
        (FIRST_RESPONSE, MARK_BREACHED): ticket.first_response_due,
        (RESOLUTION, MARK_AT_RISK): ticket.resolution_risk_at,
        (RESOLUTION, MARK_BREACHED): ticket.resolution_due,
    }
    for mark in SlaEvent.select().where(SlaEvent.ticket == ticket.id):
        threshold = thresholds[(mark.target, mark.kind)]
        if threshold is not None and threshold <= now:
            continue
        mark.delete_instance()
        detail = f"{mark.target} {mark.kind}"
        store.record_event(ticket.id, "sla_mark_undone", detail, now)
        logger.info("MSP-%s %s undone by a new due time", ticket.id, detail)


def _ticket_changed(ticket, change):
    if ticket.priority is None and ticket.first_response_due is None:
        return  # no clock yet, and none stored to clear: the IVR is still asking
    recompute(ticket, pauses=[] if change == "created" else None)


def recompute_all(settings=None):
    """Recompute every ticket (after a contract change); return how many moved.

    The bulk path for many tickets: company names, pauses and marks are loaded
    once, and the changed due times are written in one batch.
    """
    settings = settings or current_settings()
    names = dict(Company.select(Company.id, Company.name).tuples())
    pauses = collections.defaultdict(list)
    query = SlaPause.select(SlaPause.ticket, SlaPause.started_at, SlaPause.ended_at)
    for ticket_id, started_at, ended_at in query.tuples():
        pauses[ticket_id].append((started_at, ended_at))
    marked = {ticket_id for (ticket_id,) in SlaEvent.select(SlaEvent.ticket).tuples()}
    now = utcnow()
    changed = []
    with models.database.atomic():
        for ticket in Ticket.select().order_by(Ticket.id).iterator():
            clock = compute_clock(
                settings,
                ticket.contact_at,
                ticket.priority,
                names.get(ticket.company_id),
                ticket.first_response_at,
                pauses.get(ticket.id, ()),
            )
            fields = clock.fields()
            if all(getattr(ticket, k) == v for k, v in fields.items()):
                continue
            changed.append((ticket.id, fields))
            if ticket.id in marked:
                for name, value in fields.items():
                    setattr(ticket, name, value)
                _forget_marks(ticket, now)
        _write_clocks(changed)
    return len(changed)


def _write_clocks(changed):
    if not changed:
        return
    names = list(changed[0][1])
    assignments = ", ".join(f'"{name}" = ?' for name in names)
    sql = f'UPDATE "{Ticket._meta.table_name}" SET {assignments} WHERE "id" = ?'
    fields = [Ticket._meta.fields[name] for name in names]
    rows = (
        [field.db_value(values[field.name]) for field in fields] + [ticket_id]
        for ticket_id, values in changed
    )
    models.database.cursor().executemany(sql, rows)


# -- first response, resolution, pauses --------------------------------------------


def find_ticket(reference):
    """A ticket from ``12`` or ``MSP-12``; SlaError if there is none."""
    text = str(reference).strip().upper().removeprefix("MSP-")
    # str.isdigit alone accepts "²" and "١", which int() then refuses or reads.
    if not (text.isascii() and text.isdigit()):
        raise SlaError(f"{reference!r} is not a ticket number like MSP-12")
    number = int(text)
    if number > _LARGEST_ID:
        raise SlaError(f"no ticket MSP-{text}")  # SQLite could not even look it up
    ticket = Ticket.get_or_none(Ticket.id == number)
    if ticket is None:
        raise SlaError(f"no ticket MSP-{text}")
    return ticket


def client_names(name):
    """The stored names of the client ``name`` (any case, spaces around ignored).

    More than one only in a directory imported before names were matched so.
    """
    key = directory.company_key(name)
    names = [n for (n,) in Company.select(Company.name).tuples()]
    found = [n for n in names if directory.company_key(n) == key]
    if not found:
        raise SlaError(f"no such client: {name.strip()}")
    return found


def unknown_contracts(settings):
    """``[sla.contract NAME]`` sections whose NAME is no client in the directory,
    as one line (None when every contract has its client)."""
    known = {directory.company_key(n) for (n,) in Company.select(Company.name).tuples()}
    missing = [
        policy.name
        for key, policy in sorted(settings.contracts.items())
        if directory.company_key(key) not in known
    ]
    if not missing:
        return None
    sections = ", ".join(f"[sla.contract {name}]" for name in missing)
    return (
        f"{sections}: no such client in the directory; "
        "its terms apply to no call until one is imported"
    )


def record_first_response(ticket_id, at=None, by="", via="api"):
    """Record the first response to a ticket; the earliest report wins.

    Called by the PSA sync (``via="psa"``), ``msp-intake ack`` (``"cli"``) and
    on-call paging (``"page"``). Returns True if the ticket changed, False if an
    earlier first response was already recorded.
    """
    at = at or utcnow()
    by = (by or "").strip()
    ticket = find_ticket(ticket_id)
    _check_time(ticket, at, "first response")
    if not by:
        raise SlaError("a first response needs the name of who responded")
    if ticket.first_response_at is not None and ticket.first_response_at <= at:
        logger.info(
            "MSP-%s first response already at %s by %s; keeping it",
            ticket.id,
            board.iso_utc(ticket.first_response_at),
            ticket.first_response_by,
        )
        return False
    store.update_ticket(
        ticket.id,
        event="first_response",
        detail=f"by {by} via {via}",
        at=at,
        first_response_at=at,
        first_response_by=by,
        first_response_via=via,
    )
    logger.info("MSP-%s first response by %s via %s", ticket.id, by, via)
    return True


def record_resolution(ticket_id, at=None, by="", via="api"):
    """The ticket is resolved; that also counts as its first response if none came."""
    at = at or utcnow()
    ticket = find_ticket(ticket_id)
    _check_time(ticket, at, "resolution")
    with models.database.atomic():
        if ticket.first_response_at is None:
            record_first_response(ticket.id, at, by or "resolution", via)
        _end_open_pause(ticket.id, at)
        store.update_ticket(
            ticket.id,
            event="resolved",
            detail=f"by {by} via {via}",
            at=at,
            resolved_at=at,
        )
    logger.info("MSP-%s resolved via %s", ticket.id, via)


def pause_resolution(ticket_id, at=None, reason="waiting on client"):
    """Stop the resolution clock until ``resume_resolution``."""
    at = at or utcnow()
    ticket = find_ticket(ticket_id)
    _check_time(ticket, at, "pause")
    with models.database.atomic():
        if _open_pause(ticket.id) is not None:
            return False
        SlaPause.create(ticket=ticket.id, started_at=at, reason=reason)
        store.update_ticket(ticket.id, event="sla_paused", detail=reason, at=at)
    logger.info("MSP-%s resolution clock paused: %s", ticket.id, reason)
    return True


def resume_resolution(ticket_id, at=None):
    at = at or utcnow()
    ticket = find_ticket(ticket_id)
    with models.database.atomic():
        if not _end_open_pause(ticket.id, at):
            return False
        store.update_ticket(ticket.id, event="sla_resumed", at=at)
    logger.info("MSP-%s resolution clock resumed", ticket.id)
    return True


def _open_pause(ticket_id):
    return SlaPause.get_or_none(
        (SlaPause.ticket == ticket_id) & SlaPause.ended_at.is_null()
    )


def _end_open_pause(ticket_id, at):
    pause = _open_pause(ticket_id)
    if pause is None:
        return False
    if at < pause.started_at:
        raise SlaError(f"MSP-{ticket_id} cannot resume before its pause began")
    pause.ended_at = at
    pause.save()
    return True


def _check_time(ticket, at, what):
    if at < ticket.contact_at:
        raise SlaError(
            f"MSP-{ticket.id}: a {what} at {board.iso_utc(at)} is before the contact "
            f"at {board.iso_utc(ticket.contact_at)}"
        )
    if at > utcnow() + _CLOCK_SKEW:
        raise SlaError(
            f"MSP-{ticket.id}: a {what} at {board.iso_utc(at)} is in the future"
        )


# -- what a ticket shows -----------------------------------------------------------


def sla_state(ticket, now):
    """``running``, ``at_risk``, ``met``, ``breached``; None without a clock."""
    return state_of(
        ticket.first_response_due,
        ticket.first_response_risk_at,
        ticket.first_response_at,
        now,
    )


def state_of(due, risk_at, responded_at, now):
    if due is None:
        return None
    if responded_at is not None:
        return MET if responded_at <= due else BREACHED
    if now > due:
        return BREACHED
    if risk_at is not None and now >= risk_at:
        return AT_RISK
    return RUNNING


def ticket_fields(ticket):
    """The SLA fields of ``tickets --json``."""
    return {
        "first_response_due": board.iso_utc(ticket.first_response_due),
        "first_response_at": board.iso_utc(ticket.first_response_at),
        "first_response_by": ticket.first_response_by,
        "sla_state": sla_state(ticket, utcnow()),
    }
