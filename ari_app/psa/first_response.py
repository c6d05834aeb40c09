"""Where a first response read back from the PSA goes: the SLA clock.

The sync worker calls ``record(ticket_id, at, by, via)`` once per ticket, the
first time the PSA counts it as responded. When the SLA clock
(``ari_app.sla.services``) is installed it gets the call; until then the time
stays on ``PsaLink`` only. ``set_sink`` replaces the destination (the core
can wire a different one, tests use it to watch).
"""

import importlib
import logging

logger = logging.getLogger(__name__)

_sink = None


def set_sink(function):
    """Send first responses to ``function(ticket_id, at, by, via)`` (None: default)."""
    global _sink
    _sink = function


def record(ticket_id, at, by, via):
    sink = _sink or _sla_sink()
    if sink is None:
        logger.debug("ticket %s: first response kept on the PSA link only", ticket_id)
        return
    sink(ticket_id, at, by, via)


def _sla_sink():
    try:
        services = importlib.import_module("ari_app.sla.services")
    except ImportError:
        return None
    return getattr(services, "record_first_response", None)
