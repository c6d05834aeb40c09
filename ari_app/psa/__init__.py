"""PSA sync: every ticket reaches the MSP's PSA (ConnectWise, Autotask, HaloPSA or
a signed webhook) exactly once, and the client directory comes back from it.

The flow: the call flow commits a ticket change; the outbox row for it commits
in the same transaction (``outbox``); the sync worker (``worker``, its own
thread) turns rows into PSA requests through a connector (``connectors``),
looks the ticket up by our reference before ever creating it twice, reads back
first responses for the SLA clock (``first_response``) and pulls companies and
contacts for caller match (``directory_sync``). ``component`` plugs it into the
service, ``cli`` into ``msp-intake``.
"""

from .. import board, store
from .models import TABLES


def install():
    """Register the PSA tables and ticket JSON fields (idempotent)."""
    from .fields import ticket_fields

    store.register_tables(*TABLES)
    board.add_ticket_fields(ticket_fields)


install()
