"""The SLA clock's own tables, next to the store's.

``SlaPause`` holds waiting-on-client spans, which stop the resolution clock
(never the first-response clock). ``SlaEvent`` records each at-risk and breach
mark exactly once per ticket and target; ``published_at`` says whether the
event went out, so a restart neither repeats nor loses one.

The SLA columns on ``Ticket`` itself live in ``ari_app.models``. A store
created before them gets them added by ``ensure_schema``.
"""

import logging

import peewee
from playhouse.migrate import SqliteMigrator, migrate

from .. import models, store
from ..models import BaseModel, Ticket

logger = logging.getLogger(__name__)

FIRST_RESPONSE = "first_response"
RESOLUTION = "resolution"
AT_RISK = "at_risk"
BREACHED = "breached"

TICKET_COLUMNS = (
    "sla_policy",
    "first_response_due",
    "first_response_risk_at",
    "first_response_at",
    "first_response_by",
    "first_response_via",
    "first_response_seconds",
    "resolution_due",
    "resolution_risk_at",
    "resolved_at",
)


class SlaPause(BaseModel):
    ticket = peewee.ForeignKeyField(Ticket, backref="sla_pauses", on_delete="CASCADE")
    started_at = peewee.DateTimeField()
    ended_at = peewee.DateTimeField(null=True)  # None: still waiting on the client
    reason = peewee.CharField(default="")


class SlaEvent(BaseModel):
    ticket = peewee.ForeignKeyField(Ticket, backref="sla_events", on_delete="CASCADE")
    target = peewee.CharField()  # first_response / resolution
    kind = peewee.CharField()  # at_risk / breached
    at = peewee.DateTimeField()  # when the threshold was crossed
    noticed_at = peewee.DateTimeField()  # when the loop saw it
    published_at = peewee.DateTimeField(null=True, index=True)

    class Meta:
        indexes = ((("ticket", "target", "kind"), True),)


TABLES = (SlaPause, SlaEvent)
store.register_tables(*TABLES)


def ensure_schema():
    """Create the SLA tables and add SLA columns missing from an older store."""
    database = models.database
    database.create_tables(TABLES, safe=True)
    present = {column.name for column in database.get_columns(Ticket._meta.table_name)}
    missing = [name for name in TICKET_COLUMNS if name not in present]
    if missing:
        migrator = SqliteMigrator(database)
        table = Ticket._meta.table_name
        with database.atomic():
            # An older store opened with these models already has indexes named
            # after the missing columns: SQLite reads the unknown quoted column
            # as a string literal and indexes a constant. Drop them; the real
            # ones come with the columns.
            for name in missing:
                database.execute_sql(f'DROP INDEX IF EXISTS "{table}_{name}"')
            migrate(
                *(
                    migrator.add_column(table, name, Ticket._meta.fields[name])
                    for name in missing
                )
            )
        logger.info("added SLA columns to an older store: %s", ", ".join(missing))
    return missing
