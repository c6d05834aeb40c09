"""The at-risk and breach marks: which open tickets crossed a threshold.

The service's loop (``component``) calls ``scan`` in the store thread every few
seconds. A ticket is at risk once the configured share of a target's time is
used, and breached once the due time passes without a first response (or a
resolution). Each mark is written once, with the time the threshold was
crossed, and its event is published afterwards; ``published_at`` records that,
so after a restart a mark is neither repeated nor lost. The only repeat left is
a crash between publishing and committing ``published_at``: subscribers get the
mark's ``event_id`` to recognise it.
"""

import logging

from peewee import JOIN

from .. import board, models, store
from ..models import Ticket
from .models import AT_RISK, BREACHED, FIRST_RESPONSE, RESOLUTION, SlaEvent

logger = logging.getLogger(__name__)

# target -> (threshold columns, the column that stops that clock)
_TARGETS = {
    FIRST_RESPONSE: (
        Ticket.first_response_risk_at,
        Ticket.first_response_due,
        Ticket.first_response_at,
    ),
    RESOLUTION: (Ticket.resolution_risk_at, Ticket.resolution_due, Ticket.resolved_at),
}


def scan(now):
    """Write the marks due by ``now``; return the events not yet published."""
    with models.database.atomic():
        for target, (risk_at, due, done) in _TARGETS.items():
            _mark(target, BREACHED, due, done, now, due < now)
            # A ticket already past its due time is breached, not "at risk".
            _mark(target, AT_RISK, risk_at, done, now, (risk_at <= now) & (due >= now))
    return pending()


def _mark(target, kind, threshold, done, now, crossed):
    existing = SlaEvent.alias()
    query = (
        Ticket.select(Ticket.id, threshold.alias("threshold"))
        .join(
            existing,
            JOIN.LEFT_OUTER,
            on=(
                (existing.ticket == Ticket.id)
                & (existing.target == target)
                & (existing.kind == kind)
            ),
        )
        .where(
            threshold.is_null(False) & done.is_null() & crossed & existing.id.is_null()
        )
    )
    for ticket_id, at in list(query.tuples()):
        SlaEvent.create(
            ticket=ticket_id, target=target, kind=kind, at=at, noticed_at=now
        )
        store.record_event(
            ticket_id, f"sla_{kind}", f"{target} (threshold {board.iso_utc(at)})", now
        )
        logger.info("MSP-%s %s %s at %s", ticket_id, target, kind, board.iso_utc(at))


def pending():
    """Marks whose event has not gone out yet, oldest first, as (kind, payload)."""
    query = (
        SlaEvent.select(SlaEvent, Ticket)
        .join(Ticket)
        .where(SlaEvent.published_at.is_null())
        .order_by(SlaEvent.at, SlaEvent.id)
    )
    return [(f"sla.{event.kind}", _payload(event)) for event in query]


def _payload(event):
    ticket = event.ticket
    if event.target == FIRST_RESPONSE:
        due = ticket.first_response_due
    else:
        due = ticket.resolution_due
    return {
        "event_id": event.id,
        "ticket_id": ticket.id,
        "reference": ticket.reference,
        "target": event.target,
        "priority": ticket.priority,
        "company": ticket.company.name if ticket.company_id else None,
        "at": board.iso_utc(event.at),
        "due": board.iso_utc(due),
    }


def mark_published(event_ids, now):
    if event_ids:
        SlaEvent.update(published_at=now).where(SlaEvent.id.in_(event_ids)).execute()
