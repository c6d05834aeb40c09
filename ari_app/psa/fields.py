"""The PSA's part of a ticket's JSON (and so of the board and the demo)."""

import peewee

from . import outbox
from .models import PsaLink


def ticket_fields(ticket):
    """``psa_ticket_id`` and a ``psa`` block: where the ticket stands in the sync."""
    try:
        link = PsaLink.get_or_none(PsaLink.ticket == ticket.id)
        state, error = outbox.state_of(ticket.id)
    except peewee.OperationalError:  # the store predates the PSA tables
        return {"psa_ticket_id": None, "psa": None}
    if link is None and state is None:
        return {"psa_ticket_id": None, "psa": None}
    psa_id = link.psa_ticket_id if link else None
    if state is None:
        state = "synced" if psa_id else "queued"
    return {
        "psa_ticket_id": psa_id,
        "psa": {
            "type": link.psa if link else None,
            "state": state,
            "error": error,
            "first_response_at": _iso(link.first_response_at if link else None),
            "first_response_by": link.first_response_by if link else None,
        },
    }


def _iso(value):
    from ..board import iso_utc

    return iso_utc(value)
