"""The client directory: who is calling, and for which client.

A call is matched first by the caller's number (a known contact), then by the
number they dialed (a client's dedicated support line). Caller ID arrives in
whatever shape the carrier sent; ``phonenumbers`` turns it into E.164. A caller
that cannot be matched still gets a ticket, flagged for the dispatcher.
"""

import csv
import dataclasses
import logging

import phonenumbers

from . import models, store
from .exceptions import DirectoryImportError
from .models import Company, Contact

logger = logging.getLogger(__name__)

# What Asterisk and carriers put in caller ID when the number is withheld.
_WITHHELD = {
    "",
    "anonymous",
    "restricted",
    "private",
    "unavailable",
    "unknown",
    "<unknown>",
    "withheld",
}


@dataclasses.dataclass(frozen=True)
class CallerId:
    raw: str
    e164: str | None
    flag: str | None  # None, or models.WITHHELD_CALLER / MALFORMED_CALLER


def normalize(raw, region):
    """Parse a caller ID into E.164; withheld and malformed numbers are flagged."""
    text = (raw or "").strip()
    if text.lower() in _WITHHELD:
        return CallerId(raw or "", None, models.WITHHELD_CALLER)
    e164 = to_e164(text, region)
    if e164 is None:
        return CallerId(raw, None, models.MALFORMED_CALLER)
    return CallerId(raw, e164, None)


def to_e164(text, region):
    """E.164 for a dialable number, or None when it is not a possible number."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@dataclasses.dataclass(frozen=True)
class Match:
    company: Company | None = None
    contact: Contact | None = None
    matched_by: str | None = None


class _Index:
    """The directory in memory: the call path matches a caller without a query.

    It reloads whenever the store's directory revision moved (a trigger bumps
    it on every company or contact change, whichever process made it).
    """

    def __init__(self):
        self.revision = None
        self.by_phone = {}
        self.by_support_number = {}

    def current(self):
        # The path is part of the key: tests and the demo open other stores.
        revision = (models.database.database, store.directory_revision())
        if revision != self.revision:
            self._load()
            self.revision = revision
        return self

    def _load(self):
        companies = {c.id: c for c in Company.select().where(Company.active)}
        by_phone = {}
        contacts = Contact.select().where(Contact.active).order_by(Contact.id)
        for contact in contacts:
            company = companies.get(contact.company_id)
            if company is not None and contact.phone not in by_phone:
                contact.company = company
                by_phone[contact.phone] = contact
        self.by_phone = by_phone
        self.by_support_number = {
            c.support_number: c for c in companies.values() if c.support_number
        }


_index = _Index()


def match_caller(caller, dialed, region):
    """Find the contact and company for a call (blocking: runs in the store thread)."""
    index = _index.current()
    contact = index.by_phone.get(caller.e164) if caller.e164 else None
    if contact is not None:
        return Match(contact.company, contact, "caller_id")
    dialed_e164 = to_e164(dialed, region) if dialed else None
    company = index.by_support_number.get(dialed_e164) if dialed_e164 else None
    if company is not None:
        return Match(company, None, "support_number")
    return Match()


@dataclasses.dataclass
class ImportReport:
    companies: int = 0
    contacts: int = 0
    skipped: list = dataclasses.field(default_factory=list)  # (line, reason)


REQUIRED_COLUMNS = ("company", "contact", "phone")


def import_csv(path, region):
    """Load companies and contacts from a CSV; bad rows are reported and skipped."""
    try:
        handle = open(path, newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise DirectoryImportError(f"{path}: {exc.strerror}") from None
    with handle:
        reader = csv.DictReader(handle)
        header = [name.strip().lower() for name in reader.fieldnames or []]
        missing = [name for name in REQUIRED_COLUMNS if name not in header]
        if missing:
            raise DirectoryImportError(
                f"{path}: header row lacks column(s) {', '.join(missing)}"
            )
        reader.fieldnames = header
        report = ImportReport()
        try:
            rows = list(reader)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise DirectoryImportError(f"{path}: {exc}") from None
    with models.database.atomic():
        for index, row in enumerate(rows):
            # The header is line 1; a row's line is its index + 2 (no multi-line cells).
            _import_row(row, index + 2, region, report)
    return report


def _import_row(row, line, region, report):
    fields = {key: (value or "").strip() for key, value in row.items() if key}
    if None in row:
        report.skipped.append((line, "more cells than the header has columns"))
        return
    for name in REQUIRED_COLUMNS:
        if not fields.get(name):
            report.skipped.append((line, f"empty {name}"))
            return
    phone = to_e164(fields["phone"], region)
    if phone is None:
        report.skipped.append((line, f"phone {fields['phone']!r} is not a number"))
        return
    support = fields.get("support_number", "")
    support_e164 = to_e164(support, region) if support else None
    if support and support_e164 is None:
        report.skipped.append((line, f"support_number {support!r} is not a number"))
        return
    company, created = Company.get_or_create(name=fields["company"])
    report.companies += int(created)
    if support_e164 and company.support_number != support_e164:
        company.support_number = support_e164
        company.save()
    contact, created = Contact.get_or_create(
        company=company, phone=phone, defaults={"name": fields["contact"]}
    )
    contact.name = fields["contact"]
    contact.email = fields.get("email") or contact.email
    contact.active = True
    contact.save()
    report.contacts += int(created)
