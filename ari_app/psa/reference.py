"""Our reference for a ticket as the PSA keeps it, unique per installation.

Callers hear ``MSP-12``; that number restarts from 1 on a new store (a
reinstall, a second PBX on the same PSA). The PSA must never mistake this
installation's MSP-12 for another's, or the lookup that keeps delivery exactly
once would attach a new call to last year's closed ticket. So the PSA's copy of
the reference carries a random installation id, made once and kept in the store.
"""

import secrets

from .. import models
from .models import get_state, set_state

_KEY = "installation_id"
_cached = None


def installation_id():
    """The id, created on first use and kept in the store it belongs to."""
    global _cached
    store_path = models.database.database
    if _cached is None or _cached[0] != store_path:
        value = get_state(_KEY)
        if value is None:
            value = secrets.token_hex(4)
            set_state(_KEY, value)
        _cached = (store_path, value)
    return _cached[1]


def external_reference(ticket):
    """``MSP-12-3fa9c1d0``: what the PSA stores and what the lookup matches."""
    return f"{ticket.reference}-{installation_id()}"
