"""Opening the SQLite store and the ticket operations the call flow needs.

Everything here is blocking (peewee) and is meant to run in the store's own
worker thread (``StoreWorker``), never in the event loop. A ticket change and
whatever must happen with it atomically (for example queueing its delivery to
the PSA) are one transaction: listeners added with ``on_ticket_change`` run
inside it.
"""

import asyncio
import itertools
import logging
import os
import queue
import threading

import peewee

from . import models
from .exceptions import ConfigError
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


def open_store(path, busy_timeout=5.0):
    """Bind the models to the SQLite file at ``path`` and create missing tables.

    A path that cannot hold the store raises ConfigError naming ``[store] path``.
    """
    try:
        _open(path, busy_timeout)
    except (OSError, peewee.DatabaseError) as exc:
        close_store()
        problem = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError("[store] path", f"{path}: {problem}") from exc
    return models.database


def _open(path, busy_timeout):
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    models.database.init(
        path,
        pragmas={
            "journal_mode": "wal",
            # FULL: a ticket that was acknowledged as committed survives a power cut.
            "synchronous": "full",
            "foreign_keys": 1,
            # How long a write waits for another process's lock before failing;
            # a ticket that still cannot be written goes to the spool.
            "busy_timeout": int(busy_timeout * 1000),
        },
    )
    models.database.connect(reuse_if_open=True)
    tables = models.TABLES + _extra_tables
    with models.database.atomic():
        # Columns first: creating the indexes of a column that does not exist
        # yet would make SQLite index a constant instead.
        _add_missing_columns(tables)
        models.database.create_tables(tables, safe=True)
        _directory_triggers()


def _add_missing_columns(tables):
    """A store written by an older msp-intake gains the columns added since.

    New columns are nullable or have defaults, so adding them is always safe.
    """
    from playhouse.migrate import SqliteMigrator, migrate

    migrator = SqliteMigrator(models.database)
    existing = set(models.database.get_tables())
    for table in tables:
        name = table._meta.table_name
        if name not in existing:
            continue  # created whole by create_tables
        present = {column.name for column in models.database.get_columns(name)}
        for field in table._meta.sorted_fields:
            if field.column_name not in present:
                logger.info("store: adding column %s.%s", name, field.column_name)
                migrate(migrator.add_column(name, field.column_name, field))


def _directory_triggers():
    """Every change to companies or contacts, by any process, bumps one counter,
    so the in-memory directory of the call path knows when to reload."""
    database = models.database
    database.execute_sql(
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('directory_revision', 0)"
    )
    for table in ("company", "contact"):
        for action in ("INSERT", "UPDATE", "DELETE"):
            database.execute_sql(
                f"CREATE TRIGGER IF NOT EXISTS {table}_{action.lower()}_revision "
                f"AFTER {action} ON {table} BEGIN UPDATE meta SET value = value + 1 "
                "WHERE key = 'directory_revision'; END"
            )


def directory_revision():
    cursor = models.database.execute_sql(
        "SELECT value FROM meta WHERE key = 'directory_revision'"
    )
    row = cursor.fetchone()
    return row[0] if row else 0


def close_store():
    if not models.database.is_closed():
        models.database.close()


def write_transaction():
    """A transaction that takes SQLite's write lock at BEGIN.

    A deferred transaction that reads and then writes fails at once with
    "database is locked" when another process (a CLI command) wrote in between;
    taking the lock first makes it wait ``busy_timeout`` instead. Nested, it is
    a savepoint of the outer transaction.
    """
    return models.database.atomic(lock_type="IMMEDIATE")


def _notify(ticket, change):
    for listener in _change_listeners:
        listener(ticket, change)


def open_ticket(channel_id, contact_at, **fields):
    """Commit the ticket for a call; the same channel never gets a second one.

    Returns ``(ticket, created)``. ``created`` is False when the channel already
    has a ticket: the service restarted or the WebSocket reconnected mid-call.
    """
    now = utcnow()
    values = {
        "channel_id": channel_id,
        "contact_at": contact_at,
        "created_at": now,
        "updated_at": now,
        **{name: getattr(value, "id", value) for name, value in fields.items()},
    }
    try:
        with write_transaction():
            # Insert first and let the unique channel_id catch a repeat: the
            # common case (a new call) then costs no extra query.
            row = _defaults(Ticket, values)
            ticket = Ticket(id=insert_row(Ticket, row), **row)
            ticket_id = ticket.id
            insert_row(
                TicketEvent,
                {
                    "ticket": ticket_id,
                    "at": contact_at,
                    "kind": "channel_created",
                    "detail": "",
                },
            )
            insert_row(
                TicketEvent,
                {
                    "ticket": ticket_id,
                    "at": now,
                    "kind": "ticket_opened",
                    "detail": ticket.reference,
                },
            )
            _notify(ticket, "created")
    except peewee.IntegrityError:
        existing = Ticket.get_or_none(Ticket.channel_id == channel_id)
        if existing is None:
            raise
        return existing, False
    return ticket, True


_insert_sql = {}


def insert_row(model, values):
    """INSERT one row with SQL built once per model and set of columns.

    Opening a ticket is the one write on the path from StasisStart to the first
    prompt. peewee's query builder costs about a millisecond per insert on these
    machines, which a burst of simultaneous calls multiplies; the statement here
    is built once and reused, with the values converted by the fields themselves.
    """
    names = tuple(sorted(values))
    key = (model, names)
    sql = _insert_sql.get(key)
    if sql is None:
        fields = [model._meta.fields[name] for name in names]
        columns = ", ".join(f'"{field.column_name}"' for field in fields)
        marks = ", ".join("?" for _ in fields)
        sql = f'INSERT INTO "{model._meta.table_name}" ({columns}) VALUES ({marks})'
        _insert_sql[key] = sql
    params = [model._meta.fields[name].db_value(values[name]) for name in names]
    return models.database.execute_sql(sql, params).lastrowid


def _defaults(model, values):
    """The values a freshly inserted row holds: given ones, then field defaults."""
    row = {}
    for name, field in model._meta.fields.items():
        if name in values:
            row[name] = values[name]
        elif field.default is not None:
            row[name] = field.default() if callable(field.default) else field.default
    row.pop("id", None)
    return row


def update_ticket(ticket_id, event=None, detail="", at=None, step=None, **fields):
    """Change a ticket, add a timeline line and a reached step, in one transaction."""
    with write_transaction():
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


def close_stale_tickets(live_channel_ids, partial_priority):
    """Tickets still ``in_call`` whose call is no longer in the application.

    The caller left while msp-intake was not connected (killed, restarted, or
    Asterisk restarted): nothing will ever end those calls, so they are closed
    here, as abandoned unless triage had finished. Returns the references.
    """
    closed = []
    stale = Ticket.select().where(
        (Ticket.status == models.IN_CALL) & Ticket.channel_id.not_in(live_channel_ids)
    )
    for ticket in stale:
        finished = "priority_set" in ticket.steps()
        fields = {"ended_at": utcnow()}
        if not finished:
            fields.update(partial_priority(ticket))
            fields["status"] = models.ABANDONED
        update_ticket(
            ticket.id,
            event="ended",
            step="ended",
            detail="the call ended while msp-intake was not connected to it",
            hangup_cause="not seen: the call ended while msp-intake was away",
            **fields,
        )
        closed.append(ticket.reference)
    return closed


def record_event(ticket_id, kind, detail="", at=None):
    """Add one timeline line without changing the ticket itself."""
    TicketEvent.create(ticket=ticket_id, at=at or utcnow(), kind=kind, detail=detail)


def timeline(ticket_id):
    query = TicketEvent.select().where(TicketEvent.ticket == ticket_id)
    return list(query.order_by(TicketEvent.at, TicketEvent.id))


class StoreWorker:
    """Runs store calls in one dedicated thread, so the event loop never blocks.

    One thread keeps SQLite writes serialized (SQLite has a single writer) and
    keeps the connection on the thread that opened it. Work marked ``urgent``
    (opening the ticket of a call that just arrived) goes ahead of everything
    else, and urgent jobs waiting together share one transaction, so a burst of
    simultaneous calls costs one disk sync instead of one each.
    """

    def __init__(self, path, busy_timeout=5.0):
        self.path = path
        self.busy_timeout = busy_timeout
        self._jobs = queue.PriorityQueue()
        self._locked_out = False
        self._order = itertools.count()
        self._thread = None

    async def start(self):
        self._thread = threading.Thread(target=self._work, name="store", daemon=True)
        self._thread.start()
        await self.run(open_store, self.path, self.busy_timeout)

    async def run(self, function, *args, urgent=False, **kwargs):
        if self._thread is None:
            raise RuntimeError("StoreWorker.start() was not called")
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        job = _Job(function, args, kwargs, loop, future)
        self._jobs.put((0 if urgent else 1, next(self._order), job))
        return await future

    def _work(self):
        while True:
            priority, order, job = self._jobs.get()
            if job is None:
                return
            if priority == 0:
                self._run_urgent([job] + self._more_urgent())
            else:
                job.run()

    def _more_urgent(self):
        jobs = []
        while True:
            try:
                item = self._jobs.get_nowait()
            except queue.Empty:
                return jobs
            if item[0] != 0 or item[2] is None:
                self._jobs.put(item)  # keeps its place: same priority and order
                return jobs
            jobs.append(item[2])

    def _run_urgent(self, jobs):
        # While another process holds the lock, callers must not queue up behind
        # one busy_timeout each: after one refusal, the next tickets wait only
        # briefly before they are spooled, until a write goes through again.
        if self._locked_out:
            _set_busy_timeout(LOCKED_OUT_WAIT)
        if len(jobs) == 1 or models.database.is_closed():
            outcomes = [job.attempt() for job in jobs]
        else:
            # One shared transaction, each job in its own savepoint so that a
            # failing job rolls back only itself. Nobody hears back before the
            # commit.
            outcomes = []
            try:
                with write_transaction():
                    for job in jobs:
                        outcomes.append(job.attempt(savepoint=True))
            except Exception as exc:  # the commit itself failed: every job failed
                outcomes = [(None, exc)] * len(jobs)
        locked = any(_is_locked(exc) for _, exc in outcomes)
        if self._locked_out and not locked:
            _set_busy_timeout(self.busy_timeout)
            logger.info("store: writes go through again")
        self._locked_out = locked
        for job, (result, exc) in zip(jobs, outcomes, strict=True):
            job.settle(result, exc)

    async def stop(self):
        if self._thread is None:
            return
        await self.run(close_store)
        self._jobs.put((2, next(self._order), None))
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join)
        self._thread = None


# Seconds a new call's ticket waits for the lock once another is known refused.
LOCKED_OUT_WAIT = 0.2


def _is_locked(exc):
    return isinstance(exc, peewee.OperationalError) and "locked" in str(exc)


def _set_busy_timeout(seconds):
    if not models.database.is_closed():
        models.database.execute_sql(f"PRAGMA busy_timeout = {int(seconds * 1000)}")


class _Job:
    def __init__(self, function, args, kwargs, loop, future):
        self.function = function
        self.args = args
        self.kwargs = kwargs
        self.loop = loop
        self.future = future

    def attempt(self, savepoint=False):
        """Run the job; returns ``(result, exception)``, never raises."""
        try:
            if savepoint:
                with models.database.atomic():
                    return self.function(*self.args, **self.kwargs), None
            return self.function(*self.args, **self.kwargs), None
        except Exception as exc:  # handed to the awaiting coroutine
            return None, exc

    def settle(self, result, exc):
        self.loop.call_soon_threadsafe(_settle, self.future, result, exc)

    def run(self):
        self.settle(*self.attempt())


def _settle(future, result, exc):
    if future.cancelled():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)
