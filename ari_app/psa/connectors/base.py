"""What every PSA connector does, and the ticket text they share.

The sync worker calls, from its own thread: ``find`` (look a ticket up by our
reference), ``create``, ``update`` (a patch and/or a note on the same PSA
ticket), ``first_response`` (has a tech responded in the PSA?), ``directory``
(companies and contacts for caller match) and ``check`` (for ``sync test``).
Each blocks and raises the errors of ``ari_app.psa.exceptions``.
"""

import dataclasses
import datetime

from ...models import ABANDONED
from ..exceptions import PsaRejected
from ..http import PsaHttp

ANSWER_FIELDS = (
    "site_down",
    "critical",
    "users_affected",
    "affected_system",
    "symptom",
)
# What speech adds to a ticket; read with getattr, as the columns may be absent.
# The create's description does not carry these: they always follow as notes.
NOTE_FIELDS = ("transcript", "transcript_confidence", "recording_path")
SNAPSHOT_FIELDS = (
    ANSWER_FIELDS
    + (
        "priority",
        "status",
        "company_id",
        "contact_id",
    )
    + NOTE_FIELDS
)
# The [psa] settings that Autotask and Halo take as numbers (picklist values or
# ids); read_options refuses a name there, since it would fail every create.
NUMERIC_SETTINGS = (
    "status",
    "priority_p1",
    "priority_p2",
    "priority_p3",
    "priority_p4",
)


@dataclasses.dataclass(frozen=True)
class CompanyRecord:
    external_id: str
    name: str
    active: bool = True


@dataclasses.dataclass(frozen=True)
class ContactRecord:
    external_id: str
    company_external_id: str
    name: str
    phones: tuple = ()
    email: str | None = None
    active: bool = True


@dataclasses.dataclass(frozen=True)
class Directory:
    companies: list
    contacts: list
    # True when ``contacts`` is every contact the PSA has: one missing was deleted.
    complete: bool


@dataclasses.dataclass(frozen=True)
class ResponseState:
    """What the PSA says about a ticket's first response."""

    responded_at: datetime.datetime | None  # naive UTC, when the PSA has a date
    status: str | None  # the PSA's status value (id or name), as configured
    by: str | None = None


class Connector:
    TYPE = ""
    KEYS = ()  # settings of this type in [psa], besides the common ones
    SECRET_KEYS = ()  # keys of its section in the secrets file
    TICKETING = True
    DEFAULT_URL = ""
    SUMMARY_MAX = 100

    def __init__(self, settings):
        self.settings = settings
        self.options = settings.options
        self.http = PsaHttp(
            self.TYPE,
            self.api_base(),
            timeout=settings.timeout,
            verify=settings.verify,
            auth=self.add_auth,
        )

    @classmethod
    def read_options(cls, parser):
        return {}

    def api_base(self):
        return self.settings.url

    def add_auth(self, headers):
        """Add this PSA's credentials to a request's headers."""

    def secret(self, key):
        return self.settings.credentials[key].reveal()

    def close(self):
        self.http.close()

    # The operations; each connector overrides the ones its PSA supports.

    def find(self, ticket):
        return None

    def create(self, ticket, delivery):
        raise NotImplementedError

    def apply(self, psa_id, ticket, step, delivery):
        """Deliver one Step; a "none" step only records what the PSA knows."""
        if step.kind == "priority":
            self.set_priority(psa_id, ticket, step.value)
        elif step.kind == "note":
            self.add_note(psa_id, ticket, step.value)

    def plan(self, steps):
        """How the steps are grouped into deliveries; one each by default."""
        return steps

    def set_priority(self, psa_id, ticket, priority):
        raise NotImplementedError

    def add_note(self, psa_id, ticket, text):
        raise NotImplementedError

    def first_response(self, psa_id):
        return None

    def directory(self, since):
        return None

    def check(self):
        return []

    # Helpers shared by the connectors.

    def priority_value(self, ticket):
        """The PSA's priority for a ticket; untriaged calls go in as P3."""
        return self.settings.priorities[ticket.priority or "P3"]

    def company_value(self, ticket):
        company = ticket.company if ticket.company_id else None
        if company is not None and company.source == self.TYPE and company.external_id:
            return company.external_id
        return self.settings.unmatched_company

    def contact_value(self, ticket):
        contact = ticket.contact if ticket.contact_id else None
        if contact is not None and contact.source == self.TYPE and contact.external_id:
            return contact.external_id
        return None


def summary(ticket, limit, reference=None):
    """``MSP-12: call from Acme (+15551234567)``, cut to the PSA's limit.

    The reference leads so that a PSA search on it finds exactly this ticket;
    a PSA with no field for it passes the installation-unique ``reference``.
    """
    who = ticket.company.name if ticket.company_id else "unknown caller"
    number = ticket.caller_e164 or ticket.caller_number or ticket.caller_flag
    text = f"{reference or ticket.reference}: call from {who}"
    if number:
        text += f" ({number})"
    if ticket.symptom:
        text += f" - {ticket.symptom}"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def description(ticket):
    """The ticket text: the contact time first, since no PSA lets us back-date."""
    lines = [
        "Phone call to the support line, taken by msp-intake.",
        f"Contact time (PBX clock, UTC): {iso(ticket.contact_at)}",
        f"Our reference: {ticket.reference}",
        f"Caller: {_caller(ticket)}",
        f"Client: {_client(ticket)}",
    ]
    if ticket.priority:
        lines.append(f"Priority: {ticket.priority} ({ticket.priority_reason or ''})")
    else:
        lines.append("Priority: not triaged yet (sent as P3; updated after triage)")
    answers = answers_text(ticket)
    if answers:
        lines.append(answers)
    return "\n".join(lines)


def _caller(ticket):
    name = f"{ticket.caller_name} " if ticket.caller_name else ""
    number = ticket.caller_e164 or ticket.caller_number or "(no number)"
    flag = f" [{ticket.caller_flag}]" if ticket.caller_flag else ""
    return f"{name}{number}{flag}".strip()


def _client(ticket):
    if not ticket.company_id:
        return "not matched: the dispatcher should set the company"
    contact = f", contact {ticket.contact.name}" if ticket.contact_id else ""
    return f"{ticket.company.name}{contact} (matched by {ticket.matched_by})"


def answers_text(ticket):
    if all(getattr(ticket, name) is None for name in ANSWER_FIELDS):
        return ""
    parts = [
        f"whole site down: {_yes_no(ticket.site_down)}",
        f"critical system: {_yes_no(ticket.critical)}",
        "users affected: "
        + ("unknown" if ticket.users_affected is None else str(ticket.users_affected)),
    ]
    if ticket.affected_system:
        parts.append(f"system: {ticket.affected_system}")
    if ticket.symptom:
        parts.append(f"symptom: {ticket.symptom}")
    return "Triage answers: " + "; ".join(parts)


def _yes_no(value):
    return "unknown" if value is None else ("yes" if value else "no")


def snapshot(ticket):
    """The fields whose change the PSA hears about, as JSON-friendly values."""
    return {name: getattr(ticket, name, None) for name in SNAPSHOT_FIELDS}


def created_snapshot(ticket):
    """What a create told the PSA: everything but the fields sent as notes."""
    sent = snapshot(ticket)
    for name in NOTE_FIELDS:
        sent.pop(name)
    return sent


@dataclasses.dataclass(frozen=True)
class Step:
    """One thing to tell the PSA about a ticket already there.

    ``kind`` is "priority" (``value`` P1..P4) or "note" (``value`` the text);
    ``covers`` are the snapshot fields the PSA knows once the step succeeded, so
    a retry after a half-delivered update does not add the same note twice.
    """

    kind: str
    value: object
    covers: dict


def changes_between(sent, ticket):
    """The steps that bring the PSA from what it was told (``sent``) to ``ticket``."""
    now = snapshot(ticket)
    steps = []
    if now["priority"] and now["priority"] != sent.get("priority"):
        steps.append(Step("priority", now["priority"], {"priority": now["priority"]}))
    answers = {name: now[name] for name in ANSWER_FIELDS}
    if any(now[name] != sent.get(name) for name in ANSWER_FIELDS):
        text = answers_text(ticket)
        if text and ticket.priority:
            text += f"\nPriority: {ticket.priority} ({ticket.priority_reason or ''})"
        steps.append(Step("note", text, answers) if text else Step("none", "", answers))
    transcript = now["transcript"]
    if transcript and transcript != sent.get("transcript"):
        confidence = now["transcript_confidence"]
        how = f" (confidence {confidence:.2f})" if confidence is not None else ""
        text = f"Transcript of the call{how}:\n{transcript}"
        covers = {"transcript": transcript, "transcript_confidence": confidence}
        steps.append(Step("note", text, covers))
    recording = now["recording_path"]
    if recording and recording != sent.get("recording_path"):
        text = f"Recording of the caller, on the intake server: {recording}"
        steps.append(Step("note", text, {"recording_path": recording}))
    if now["status"] != sent.get("status"):
        text = (
            "The caller hung up before triage finished."
            if (now["status"] == ABANDONED)
            else ""
        )
        steps.append(Step("note" if text else "none", text, {"status": now["status"]}))
    return [step for step in steps if step.kind != "none" or step.covers]


def answer_id(answer, key, request):
    """The new record's id from a PSA's answer, or PsaRejected naming the problem.

    A 200 without the id comes from a proxy or maintenance page as often as from
    the PSA; the ticket is parked with what came back rather than guessed at.
    """
    value = answer.get(key) if isinstance(answer, dict) else None
    if value is None or value == "":
        raise PsaRejected(f"{request}: the answer has no {key}: {str(answer)[:100]}")
    return str(value)


def iso(value):
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None


def parse_time(text):
    """A PSA timestamp as naive UTC; None for empty and for the 0001/1900 nulls."""
    if not text or text.startswith(("0001-", "1900-")):
        return None
    value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is not None:
        value = value.astimezone(datetime.UTC).replace(tzinfo=None)
    return value


def ref(value):
    """A PSA reference object: ``{"id": 5}`` for a number, else by name."""
    text = str(value)
    return {"id": int(text)} if text.isdigit() else {"name": text}


def picklist_problem(setting, value, known):
    """One line for ``sync test`` when a configured value is not in the PSA."""
    if str(value) in known:
        return None
    listed = ", ".join(sorted(known)[:12]) or "none"
    return f"{setting} = {value}: not known to the PSA (it has: {listed})"
