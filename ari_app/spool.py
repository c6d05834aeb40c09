"""The spool: contacts the store could not take, kept until it can.

A ticket is committed before a call is answered. When SQLite refuses the write
(locked by a long job, a full or read-only disk), the contact still must not be
lost: it is appended here, one JSON line per call, synced to disk, and the
service turns each line into a ticket as soon as the store accepts writes again.
"""

import datetime
import json
import logging
import os

from . import models, store, triage

logger = logging.getLogger(__name__)


def append(path, contact):
    """Append one contact; returns the path, or None when even this failed."""
    try:
        directory = os.path.dirname(os.path.abspath(path))
        os.makedirs(directory, exist_ok=True)
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(contact, ensure_ascii=False) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        logger.error("spool %s: cannot write (%s)", path, exc)
        return None
    return path


def replay(path, settings, region):
    """Turn spooled contacts into tickets (store thread); returns how many.

    The file is emptied only after every line is committed; a line whose channel
    already has a ticket is skipped, so a replay that dies half-way is harmless.
    """
    try:
        with open(path, encoding="utf-8") as handle:
            lines = handle.readlines()
    except FileNotFoundError:
        return 0
    recovered = 0
    with models.database.atomic(lock_type="IMMEDIATE"):
        for number, line in enumerate(lines, 1):
            try:
                contact = json.loads(line)
            except ValueError:
                logger.error(
                    "spool %s:%d: not JSON, left in %s.bad", path, number, path
                )
                _keep_bad(path, line)
                continue
            recovered += _recover(contact, settings, region)
    os.truncate(path, 0)
    return recovered


def _recover(contact, settings, region):
    from .callflow import open_call_ticket

    contact_at = datetime.datetime.fromisoformat(contact["contact_at"])
    ticket, created = open_call_ticket(
        contact["channel_id"],
        contact_at,
        "creationtime",
        contact.get("caller_number", ""),
        contact.get("caller_name", ""),
        contact.get("dialed", ""),
        region,
    )
    if not created:
        return 0
    priority, reason = triage.decide(
        triage.Answers(), settings.priority_rules, settings.default_priority
    )
    store.update_ticket(
        ticket.id,
        event="recovered",
        step="ended",
        detail=f"from the spool: the store refused it during the call "
        f"({contact.get('reason', 'unknown')}); caller sent to the fallback",
        status=models.OPEN,
        priority=priority,
        priority_reason=f"{reason}; not triaged",
        ended_at=contact_at,
    )
    logger.info(
        "ticket %s recovered from the spool (call %s)",
        ticket.reference,
        contact["channel_id"],
    )
    return 1


def _keep_bad(path, line):
    with open(path + ".bad", "a", encoding="utf-8") as handle:
        handle.write(line)
