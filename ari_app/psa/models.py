"""The PSA sync's tables: the outbox, the link to the PSA ticket, and sync state.

A ticket change and its outbox row are committed in one transaction (see
``outbox``); the sync worker turns outbox rows into PSA requests and records the
PSA's ticket id on ``PsaLink``, which is what makes a retry look the ticket up
instead of creating it twice.
"""

import peewee

from ..models import BaseModel, Ticket, utcnow

# OutboxItem.state values.
QUEUED = "queued"  # never tried
SENDING = "sending"  # an attempt started; if we die now, the next one looks up first
RETRYING = "retrying"  # failed for a reason that retrying can fix
PARKED = "parked"  # the PSA refused it; waits for `sync retry`
DONE = "done"
PENDING = (QUEUED, SENDING, RETRYING)
WAITING = PENDING + (PARKED,)


class OutboxItem(BaseModel):
    """One ticket change waiting to reach the PSA."""

    ticket = peewee.ForeignKeyField(Ticket, backref="psa_outbox", on_delete="CASCADE")
    change = peewee.CharField()  # "created" or "updated", as store reported it
    state = peewee.CharField(default=QUEUED, index=True)
    attempts = peewee.IntegerField(default=0)
    queued_at = peewee.DateTimeField(default=utcnow)
    next_attempt_at = peewee.DateTimeField(null=True)
    done_at = peewee.DateTimeField(null=True)
    last_error = peewee.TextField(null=True)

    class Meta:
        table_name = "psa_outbox"


class PsaLink(BaseModel):
    """Our ticket's counterpart in the PSA, and what the PSA has been told."""

    ticket = peewee.ForeignKeyField(
        Ticket, unique=True, backref="psa_links", on_delete="CASCADE"
    )
    psa = peewee.CharField()  # connectwise / autotask / halo / webhook
    psa_ticket_id = peewee.CharField(null=True, index=True)
    created_at = peewee.DateTimeField(null=True)  # when the PSA confirmed it
    sent = peewee.TextField(default="{}")  # JSON: the fields last delivered
    first_response_at = peewee.DateTimeField(null=True)  # as the PSA reports it
    first_response_by = peewee.CharField(null=True)
    response_checked_at = peewee.DateTimeField(null=True)

    class Meta:
        table_name = "psa_link"


class SyncState(BaseModel):
    """Small key/value facts about the sync: last error, pause, directory cursor."""

    key = peewee.CharField(primary_key=True)
    value = peewee.TextField(default="")

    class Meta:
        table_name = "psa_state"


TABLES = [OutboxItem, PsaLink, SyncState]


def get_state(key, default=None):
    row = SyncState.get_or_none(SyncState.key == key)
    return row.value if row is not None else default


def set_state(key, value):
    SyncState.insert(key=key, value=str(value)).on_conflict_replace().execute()


def delete_state(key):
    SyncState.delete().where(SyncState.key == key).execute()
