"""The client directory: who is calling, and for which client.

A call is matched first by the caller's number (a known contact), then by the
number they dialed (a client's dedicated support line). Caller ID arrives in
whatever shape the carrier sent; ``phonenumbers`` turns it into E.164. A caller
that cannot be matched still gets a ticket, flagged for the dispatcher.
"""

import csv
import dataclasses
import io
import logging
import time

import peewee
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
    # Rows imported only in part (a support number that was not moved), or
    # imported with a change worth a look: (line, what happened).
    warnings: list = dataclasses.field(default_factory=list)


REQUIRED_COLUMNS = ("company", "contact", "phone")

# Rows written per transaction. The running service needs SQLite's write lock to
# commit the ticket of every new call (it waits 5 s at most), so the import
# takes the lock for one chunk at a time instead of for the whole file.
CHUNK_ROWS = 500

# The pause between two chunks. A writer that found the lock taken sleeps and
# retries, up to 100 ms apart (SQLite's busy handler); without a gap at least
# that long the import would take the lock back first, chunk after chunk.
CHUNK_PAUSE = 0.1


@dataclasses.dataclass(frozen=True)
class _Entry:
    """One row that passed every check, ready to be written."""

    line: int
    company: str
    contact: str
    phone: str
    email: str | None
    support_number: str | None


def import_csv(path, region):
    """Load companies and contacts from a CSV; bad rows are reported and skipped.

    Every row is parsed and checked first; only then are the good ones written,
    ``CHUNK_ROWS`` to a transaction. Importing the same file again changes
    nothing, so an import stopped part-way can simply be run again.
    """
    rows = _read_rows(path)
    report = ImportReport()
    entries = []
    for index, row in enumerate(rows):
        # The header is line 1; a row's line is its index + 2 (no multi-line cells).
        entry = _check_row(row, index + 2, region, report)
        if entry is not None:
            entries.append(entry)
    directory = _Directory.load()
    for start in range(0, len(entries), CHUNK_ROWS):
        if start:
            time.sleep(CHUNK_PAUSE)
        with models.database.atomic(lock_type="IMMEDIATE"):
            _write_chunk(entries[start : start + CHUNK_ROWS], directory, report)
    return report


def _read_rows(path):
    """The file's rows as dicts keyed by lower-cased column names."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise DirectoryImportError(f"{path}: {exc.strerror}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise DirectoryImportError(
            f"{path}:{line}: not UTF-8 text (save it as 'CSV UTF-8')"
        ) from None
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [name.strip().lower() for name in reader.fieldnames or []]
        missing = [name for name in REQUIRED_COLUMNS if name not in header]
        if missing:
            raise DirectoryImportError(
                f"{path}: header row lacks column(s) {', '.join(missing)}"
            )
        reader.fieldnames = header
        return list(reader)
    except csv.Error as exc:
        raise DirectoryImportError(f"{path}:{reader.line_num}: {exc}") from None


def _check_row(row, line, region, report):
    """An ``_Entry`` for a good row; None (and a report line) for a bad one."""
    fields = {key: (value or "").strip() for key, value in row.items() if key}
    if None in row:
        report.skipped.append((line, "more cells than the header has columns"))
        return None
    for name in REQUIRED_COLUMNS:
        if not fields.get(name):
            report.skipped.append((line, f"empty {name}"))
            return None
    phone = to_e164(fields["phone"], region)
    if phone is None:
        report.skipped.append((line, f"phone {fields['phone']!r} is not a number"))
        return None
    support = fields.get("support_number", "")
    support_e164 = to_e164(support, region) if support else None
    if support and support_e164 is None:
        report.skipped.append((line, f"support_number {support!r} is not a number"))
        return None
    return _Entry(
        line,
        fields["company"],
        fields["contact"],
        phone,
        fields.get("email") or None,
        support_e164,
    )


def company_key(name):
    """Company names match ignoring case and surrounding spaces: "acme" is "ACME"."""
    return name.strip().lower()


@dataclasses.dataclass
class _Directory:
    """The directory as the import sees it, kept current as it writes.

    Loaded once, so that a chunk is a few bulk statements rather than several
    queries a row: peewee builds each query in Python, and that time is spent
    holding the write lock.
    """

    by_key: dict  # company_key(name) -> Company, the first one made
    holders: dict  # support number -> Company that has it
    set_on_line: dict  # support number -> the line of this file that set it
    contacts: dict  # (company id, phone) -> (name, email, active)

    @classmethod
    def load(cls):
        by_key, holders = {}, {}
        for company in Company.select().order_by(Company.id):
            by_key.setdefault(company_key(company.name), company)
            if company.support_number:
                holders.setdefault(company.support_number, company)
        query = Contact.select(
            Contact.company, Contact.phone, Contact.name, Contact.email, Contact.active
        )
        contacts = {
            (company_id, phone): (name, email, active)
            for company_id, phone, name, email, active in query.tuples()
        }
        return cls(by_key, holders, {}, contacts)


def _write_chunk(entries, directory, report):
    new = {}  # (company id, phone) -> the contact's fields, inserted at the end
    for entry in entries:
        company = _company(entry, directory, report)
        key = (company.id, entry.phone)
        if key in new:
            # The same contact twice in the file: the later row wins.
            new[key]["name"] = entry.contact
            new[key]["email"] = entry.email or new[key]["email"]
            continue
        if key not in directory.contacts:
            new[key] = {
                "company": company.id,
                "phone": entry.phone,
                "name": entry.contact,
                "email": entry.email,
            }
            report.contacts += 1
            continue
        _update_contact(key, entry, directory)
    # 100 rows of 4 values stay under SQLite's oldest limit of 999 variables.
    for batch in peewee.chunked(list(new.values()), 100):
        Contact.insert_many(batch).execute()
    for key, fields in new.items():
        directory.contacts[key] = (fields["name"], fields["email"], True)


def _company(entry, directory, report):
    company = directory.by_key.get(company_key(entry.company))
    if company is None:
        company = Company.create(name=entry.company)
        directory.by_key[company_key(entry.company)] = company
        report.companies += 1
    if entry.support_number and entry.support_number != company.support_number:
        _give_support_number(company, entry, directory, report)
    return company


def _update_contact(key, entry, directory):
    name, email, active = directory.contacts[key]
    wanted = (entry.contact, entry.email or email, True)
    if (name, email, active) == wanted:
        return  # unchanged: no write, and the call path keeps its cached directory
    company_id, phone = key
    Contact.update(name=wanted[0], email=wanted[1], active=True).where(
        (Contact.company == company_id) & (Contact.phone == phone)
    ).execute()
    directory.contacts[key] = wanted


def _give_support_number(company, entry, directory, report):
    """A support number routes calls to one client: never share it or move it
    from one client to another; a client changing its own number is reported."""
    number = entry.support_number
    holder = directory.holders.get(number)
    if holder is not None:
        report.warnings.append(
            (
                entry.line,
                f"support_number {number} is {holder.name}'s"
                f"{_since(directory, number)}; {company.name} keeps "
                f"{company.support_number or 'none'} (contact imported)",
            )
        )
        return
    old = company.support_number
    if old and old in directory.set_on_line:
        report.warnings.append(
            (
                entry.line,
                f"{company.name} already has support_number {old}"
                f"{_since(directory, old)}; {number} not set (contact imported)",
            )
        )
        return
    if old:
        report.warnings.append(
            (
                entry.line,
                f"{company.name}: support_number changed from {old} to {number}",
            )
        )
        directory.holders.pop(old, None)
    company.support_number = number
    company.save()
    directory.holders[number] = company
    directory.set_on_line[number] = entry.line


def _since(directory, number):
    line = directory.set_on_line.get(number)
    return f" (line {line})" if line else " in the directory"
