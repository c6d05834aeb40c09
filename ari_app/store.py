"""Opening the SQLite store and the ticket operations the call flow needs.

Everything here is blocking (peewee) and is meant to run in the store's own
worker thread (``StoreWorker``), never in the event loop. A ticket change and
whatever must happen with it atomically (for example queueing its delivery to
the PSA) are one transaction: listeners added with ``on_ticket_change`` run
inside it.
"""

import asyncio
import concurrent.futures
import logging
import os

import peewee

from . import models
from .models import Ticket, TicketEvent, utcnow

logger = logging.getLogger(__name__)

_extra_tables = []
_change_listeners = []


def register_tables(*tables):
    """Let another part of msp-intake (PSA outbox, SLA...) add its tables."""
    for table in tables:
        if table not in _extra_tables:
            _extra_tables.append(table)


def on_ticket_change(listener):
    """Call ``listener(ticket, change)`` inside every ticket-changing transaction.

    ``change`` is ``"created"`` or ``"updated"``. Raising aborts the change.
    """
    if listener not in _change_listeners:
        _change_listeners.append(listener)
    return listener


def open_store(path):
    """Bind the models to the SQLite file at ``path`` and create missing tables."""
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    models.database.init(
        path,
        pragmas={
            "journal_mode": "wal",
            # FULL: a ticket that was acknowledged as committed survives a power cut.
            "synchronous": "full",
            "foreign_keys": 1,
            "busy_timeout": 5000,
        },
    )
    models.database.connect(reuse_if_open=True)
    models.database.create_tables(models.TABLES + _extra_tables, safe=True)
    return models.database


def close_store():
    if not models.database.is_closed():
        models.database.close()


def _notify(ticket, change):
    for listener in _change_listeners:
        listener(ticket, change)


def open_ticket(channel_id, contact_at, **fields):
    """Commit the ticket for a call; the same channel never gets a second one.

    Returns ``(ticket, created)``. ``created`` is False when the channel already
    has a ticket: the service restarted or the WebSocket reconnected mid-call.
    """
    with models.database.atomic():
        existing = Ticket.get_or_none(Ticket.channel_id == channel_id)
        if existing is not None:
            return existing, False
        now = utcnow()
        try:
            ticket = Ticket.create(
                channel_id=channel_id,
                contact_at=contact_at,
                created_at=now,
                updated_at=now,
                **fields,
            )
        except peewee.IntegrityError:
            # Another worker thread committed the same channel first.
            return Ticket.get(Ticket.channel_id == channel_id), False
        TicketEvent.create(ticket=ticket, at=contact_at, kind="channel_created")
        TicketEvent.create(
            ticket=ticket, at=now, kind="ticket_opened", detail=ticket.reference
        )
        _notify(ticket, "created")
    return ticket, True


def update_ticket(ticket_id, event=None, detail="", at=None, step=None, **fields):
    """Change a ticket, add a timeline line and a reached step, in one transaction."""
    with models.database.atomic():
        ticket = Ticket.get_by_id(ticket_id)
        now = utcnow()
        for name, value in fields.items():
            setattr(ticket, name, value)
        if step and step not in ticket.steps():
            ticket.steps_reached = ",".join(ticket.steps() + [step])
        ticket.updated_at = now
        ticket.save()
        if event:
            TicketEvent.create(ticket=ticket, at=at or now, kind=event, detail=detail)
        _notify(ticket, "updated")
    return ticket


def record_event(ticket_id, kind, detail="", at=None):
    """Add one timeline line without changing the ticket itself."""
    TicketEvent.create(ticket=ticket_id, at=at or utcnow(), kind=kind, detail=detail)


def timeline(ticket_id):
    query = TicketEvent.select().where(TicketEvent.ticket == ticket_id)
    return list(query.order_by(TicketEvent.at, TicketEvent.id))


class StoreWorker:
    """Runs store calls in one dedicated thread, so the event loop never blocks.

    One thread keeps SQLite writes serialized (SQLite has a single writer) and
    keeps the connection on the thread that opened it.
    """

    def __init__(self, path):
        self.path = path
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=1, thread_name_prefix="store"
        )

    async def start(self):
        await self.run(open_store, self.path)

    async def run(self, function, *args, **kwargs):
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._executor, lambda: function(*args, **kwargs)
        )

    async def stop(self):
        await self.run(close_store)
        self._executor.shutdown(wait=True)
