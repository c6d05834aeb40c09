"""The outbox: a ticket change and its delivery to the PSA commit together.

``install()`` adds a listener to ``store.on_ticket_change``; it runs inside the
transaction that created or changed the ticket, so a ticket the caller was told
about always has a row here, even if the service dies a millisecond later. The
sync worker (``worker``) drains the rows in order; nothing here talks to a PSA.
"""

import datetime
import logging
import threading

import peewee

from .. import models, store
from ..models import utcnow
from .models import (
    DONE,
    PARKED,
    PENDING,
    QUEUED,
    RETRYING,
    SENDING,
    WAITING,
    OutboxItem,
)

logger = logging.getLogger(__name__)

# Set after a row is queued, so an idle worker wakes at once instead of polling.
wakeup = threading.Event()
_enabled = False


def install():
    """Start queueing deliveries (the PSA sync is configured)."""
    global _enabled
    _enabled = True
    store.on_ticket_change(queue_delivery)


def uninstall():
    global _enabled
    _enabled = False


# While the caller is still in the IVR, a ticket changes every few seconds (each
# answer, each step). Its updates wait this long, or until the call ends, so the
# PSA gets one note with the triage instead of one per keypress. The create
# itself is never held: the ticket is in the PSA within seconds.
IN_CALL_HOLD = datetime.timedelta(seconds=20)


def queue_delivery(ticket, change):
    """The ``on_ticket_change`` listener: one outbox row per ticket change."""
    if not _enabled:
        return
    now = utcnow()
    held = change == "updated" and ticket.status == models.IN_CALL
    OutboxItem.create(
        ticket=ticket,
        change=change,
        queued_at=now,
        next_attempt_at=now + IN_CALL_HOLD if held else None,
    )
    if not held:
        # The call is over (or this is the create): what was held goes now.
        OutboxItem.update(next_attempt_at=None).where(
            OutboxItem.ticket == ticket.id,
            OutboxItem.state == QUEUED,
            OutboxItem.attempts == 0,
        ).execute()
    wakeup.set()


def next_due(now=None):
    """The oldest deliverable row whose ticket has nothing older still waiting.

    A ticket's rows go out in the order they were queued; a parked row holds back
    only the rows of its own ticket.
    """
    now = now or utcnow()
    heads = (
        OutboxItem.select(peewee.fn.MIN(OutboxItem.id))
        .where(OutboxItem.state.in_(WAITING))
        .group_by(OutboxItem.ticket)
    )
    due = OutboxItem.next_attempt_at.is_null() | (OutboxItem.next_attempt_at <= now)
    query = (
        OutboxItem.select()
        .where(OutboxItem.id.in_(heads), OutboxItem.state.in_(PENDING), due)
        .order_by(OutboxItem.id)
    )
    return query.first()


def last_pending_id(ticket_id):
    """The newest waiting row of a ticket: a delivery of its current state covers
    every row up to this one."""
    query = OutboxItem.select(peewee.fn.MAX(OutboxItem.id)).where(
        OutboxItem.ticket == ticket_id, OutboxItem.state.in_(PENDING)
    )
    return query.scalar()


def mark_sending(item):
    """Record that an attempt starts, before the request goes out."""
    item.attempts += 1
    item.state = SENDING
    item.save()


def mark_done(ticket_id, up_to_id):
    now = utcnow()
    return (
        OutboxItem.update(state=DONE, done_at=now, next_attempt_at=None)
        .where(
            OutboxItem.ticket == ticket_id,
            OutboxItem.id <= up_to_id,
            OutboxItem.state.in_(PENDING),
        )
        .execute()
    )


def mark_retry(item, error, delay):
    item.state = RETRYING
    item.last_error = error
    item.next_attempt_at = utcnow() + datetime.timedelta(seconds=delay)
    item.save()


def park(item, error):
    item.state = PARKED
    item.last_error = error
    item.next_attempt_at = None
    item.save()


def unpark(ticket_id=None):
    """Put parked rows (of one ticket, or all) back in the queue; returns how many."""
    query = OutboxItem.update(state=RETRYING, next_attempt_at=None).where(
        OutboxItem.state == PARKED
    )
    if ticket_id is not None:
        query = query.where(OutboxItem.ticket == ticket_id)
    count = query.execute()
    # Rows waiting on the PSA-wide pause go now too: the sysadmin asked for it.
    OutboxItem.update(next_attempt_at=None).where(
        OutboxItem.state.in_(PENDING)
    ).execute()
    wakeup.set()
    return count


def counts():
    """``{state: (tickets, changes)}`` still waiting, for ``sync status``.

    A ticket changes many times during one call, so changes alone would make a
    short outage look like a long backlog.
    """
    result = {QUEUED: (0, 0), SENDING: (0, 0), RETRYING: (0, 0), PARKED: (0, 0)}
    query = (
        OutboxItem.select(
            OutboxItem.state,
            peewee.fn.COUNT(OutboxItem.ticket.distinct()),
            peewee.fn.COUNT(OutboxItem.id),
        )
        .where(OutboxItem.state.in_(WAITING))
        .group_by(OutboxItem.state)
    )
    for state, tickets, changes in query.tuples():
        result[state] = (tickets, changes)
    return result


def parked_items():
    query = OutboxItem.select().where(OutboxItem.state == PARKED)
    return list(query.order_by(OutboxItem.id))


def state_of(ticket_id):
    """The sync state of one ticket for its JSON: synced, queued, retrying, parked."""
    row = (
        OutboxItem.select()
        .where(OutboxItem.ticket == ticket_id, OutboxItem.state.in_(WAITING))
        .order_by(OutboxItem.id)
        .first()
    )
    if row is None:
        return None, None
    state = QUEUED if row.state == SENDING else row.state
    return state, row.last_error


def prune(older_than_days=7):
    """Delivered rows are history only; keep a week for `sync status` and support."""
    cutoff = utcnow() - datetime.timedelta(days=older_than_days)
    query = OutboxItem.delete().where(
        OutboxItem.state == DONE, OutboxItem.done_at < cutoff
    )
    return query.execute()
