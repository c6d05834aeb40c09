"""How tickets are shown: the JSON of ``tickets --json`` and the board table.

Other parts of msp-intake add fields to a ticket's JSON with
``add_ticket_fields``; the board and the demo print from the same dicts.
"""

import datetime
import json
import zoneinfo

from tabulate import tabulate

from .models import Ticket, TicketEvent

_field_hooks = []


def add_ticket_fields(hook):
    """Register ``hook(ticket) -> dict`` whose keys are added to every ticket's JSON."""
    if hook not in _field_hooks:
        _field_hooks.append(hook)
    return hook


def iso_utc(value):
    """``2026-12-03T12:42:40.282Z``: UTC, milliseconds, as every JSON time here."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(datetime.UTC).replace(tzinfo=None)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def ticket_to_dict(ticket):
    data = {
        "id": ticket.id,
        "reference": ticket.reference,
        "company": ticket.company.name if ticket.company_id else None,
        "contact": ticket.contact.name if ticket.contact_id else None,
        "caller_number": ticket.caller_number,
        "caller_e164": ticket.caller_e164,
        "caller_name": ticket.caller_name,
        "caller_flag": ticket.caller_flag,
        "dialed_number": ticket.dialed_number,
        "priority": ticket.priority,
        "priority_reason": ticket.priority_reason,
        "status": ticket.status,
        "contact_at": iso_utc(ticket.contact_at),
        "created_at": iso_utc(ticket.created_at),
        "ended_at": iso_utc(ticket.ended_at),
        "channel_id": ticket.channel_id,
        "site_down": ticket.site_down,
        "critical": ticket.critical,
        "users_affected": ticket.users_affected,
        "affected_system": ticket.affected_system,
        "symptom": ticket.symptom,
        "speech": ticket.speech,
        "speech_detail": speech_detail(ticket),
        "transcript": ticket.transcript,
        "transcript_confidence": ticket.transcript_confidence,
        "transcript_made": transcript_made(ticket),
        "recording_path": ticket.recording_path,
        "steps_reached": ticket.steps(),
        "hangup_cause": ticket.hangup_cause,
    }
    for hook in _field_hooks:
        data.update(hook(ticket))
    return data


def speech_detail(ticket):
    """Why a call could not be answered by voice ("no speech model: keypad only")."""
    if ticket.speech != "unavailable":
        return None
    event = (
        TicketEvent.select(TicketEvent.detail)
        .where(
            (TicketEvent.ticket == ticket.id)
            & (TicketEvent.kind == "speech_unavailable")
        )
        .order_by(TicketEvent.id.desc())
        .first()
    )
    return event.detail if event is not None else None


def transcript_made(ticket):
    """ "live", or "after the call" when live recognition had fallen behind."""
    if not ticket.transcript:
        return None
    later = (
        TicketEvent.select(TicketEvent.id)
        .where(
            (TicketEvent.ticket == ticket.id)
            & (TicketEvent.kind == "transcribed_after_call")
        )
        .exists()
    )
    return "after the call" if later else "live"


def query_tickets(status=None, limit=None):
    """Tickets oldest first; with ``limit``, the most recent ``limit`` of them."""
    query = Ticket.select().order_by(Ticket.contact_at.desc(), Ticket.id.desc())
    if status:
        query = query.where(Ticket.status == status)
    if limit:
        query = query.limit(limit)
    return list(reversed(query))


def tickets_json(tickets):
    return json.dumps([ticket_to_dict(t) for t in tickets], indent=2)


def local_time(value, zone_name):
    """A stored UTC time as the dispatcher reads it: ``Mon 08:47:01.123 EST``."""
    moment = value.replace(tzinfo=datetime.UTC).astimezone(zoneinfo.ZoneInfo(zone_name))
    millis = moment.microsecond // 1000
    return moment.strftime("%a %Y-%m-%d %H:%M:%S.") + f"{millis:03d} {moment:%Z}"


def board_table(tickets, zone_name="UTC"):
    """The dispatcher's board: one line per ticket, most urgent first."""
    rows = []
    for ticket in sorted(tickets, key=_urgency):
        lag = (ticket.created_at - ticket.contact_at).total_seconds() * 1000
        rows.append(
            [
                ticket.reference,
                printable(ticket.company.name) if ticket.company_id else "(unmatched)",
                ticket.priority or "-",
                ticket.status,
                local_time(ticket.contact_at, zone_name),
                f"{lag:.0f} ms",
                printable(ticket.caller_number) or "(none)",
                ticket_to_dict(ticket).get("psa_ticket_id") or "-",
            ]
        )
    headers = [
        "ticket",
        "client",
        "priority",
        "status",
        "contact time",
        "contact to ticket",
        "caller",
        "PSA ticket",
    ]
    return tabulate(rows, headers=headers)


def printable(text, width=40):
    """Caller IDs are whatever the carrier sent: keep control characters and
    very long values from breaking the board's layout."""
    text = "".join(ch if ch.isprintable() else "?" for ch in text or "")
    return text if len(text) <= width else text[: width - 1] + "…"


def _urgency(ticket):
    return (ticket.priority or "P9", ticket.contact_at)
