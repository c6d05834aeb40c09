"""The SLA clock's own tables, next to the store's.

``SlaPause`` holds waiting-on-client spans, which stop the resolution clock
(never the first-response clock). ``SlaEvent`` records each at-risk and breach
mark exactly once per ticket and target; ``published_at`` says whether the
event went out, so a restart neither repeats nor loses one.

The SLA columns on ``Ticket`` itself live in ``ari_app.models``. A store
created before them gets them when ``store.open_store`` opens it.
"""

import logging

import peewee

from .. import store
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
