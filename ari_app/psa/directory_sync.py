"""The client directory, pulled from the PSA into the store used for caller match.

Companies and contacts keep the PSA's id in ``external_id`` and its type in
``source``. A PSA contact with several phone numbers becomes one ``Contact`` row
per number (caller match looks up one number). A contact the PSA marks inactive,
or that a full listing no longer has, becomes ``active = False``, which
``directory.match_caller`` ignores. A company of the same name imported from a
CSV is adopted rather than duplicated.
"""

import dataclasses
import logging

from ..directory import to_e164
from ..models import Company, Contact, utcnow
from .models import get_state, set_state

logger = logging.getLogger(__name__)

CURSOR_KEY = "directory_synced_at"
FULL_KEY = "directory_full_at"


@dataclasses.dataclass
class SyncReport:
    companies: int = 0
    contacts: int = 0  # contact rows created or updated
    deactivated: int = 0
    skipped: list = dataclasses.field(default_factory=list)  # (external id, reason)
    full: bool = False


def run(connector, region, *, full=False, write=None):
    """Pull the directory (incremental unless ``full``); return a SyncReport.

    ``write(function)`` runs a store change in the thread that owns writes; by
    default it runs here.
    """
    write = write or (lambda function: function())
    since = None if full else _cursor()
    started = utcnow()
    listing = connector.directory(since)
    if listing is None:
        raise NotImplementedError(f"{connector.TYPE} has no directory to sync")
    report = SyncReport(full=listing.complete)
    write(lambda: _apply(connector.TYPE, listing, region, report, started))
    logger.info(
        "directory sync from %s: %d companies, %d contact rows, %d deactivated, "
        "%d skipped (%s)",
        connector.TYPE,
        report.companies,
        report.contacts,
        report.deactivated,
        len(report.skipped),
        "full" if listing.complete else "incremental",
    )
    return report


def _cursor():
    value = get_state(CURSOR_KEY)
    if not value:
        return None
    from datetime import datetime

    return datetime.fromisoformat(value)


def _apply(source, listing, region, report, started):
    from ..models import database

    with database.atomic():
        companies = {}
        for record in listing.companies:
            companies[record.external_id] = _company(source, record, report)
        seen = set()
        for record in listing.contacts:
            company = companies.get(record.company_external_id) or Company.get_or_none(
                Company.source == source,
                Company.external_id == record.company_external_id,
            )
            if company is None:
                report.skipped.append((record.external_id, "company not in the PSA"))
                continue
            seen |= _contact(source, company, record, region, report)
        if listing.complete:
            stale = Contact.update(active=False).where(
                Contact.source == source,
                Contact.active,
                Contact.id.not_in(list(seen) or [0]),
            )
            report.deactivated += stale.execute()
            set_state(FULL_KEY, started.isoformat())
        set_state(CURSOR_KEY, started.isoformat())


def _company(source, record, report):
    company = Company.get_or_none(
        Company.source == source, Company.external_id == record.external_id
    )
    if company is None:
        # A CSV-imported company with the PSA's name is the same client.
        company = Company.get_or_none(Company.name == record.name)
    if company is None:
        company = Company(name=record.name)
    company.name = record.name
    company.source = source
    company.external_id = record.external_id
    company.active = record.active
    company.save()
    report.companies += 1
    return company


def _contact(source, company, record, region, report):
    """Rows for one PSA contact, one per phone; returns the ids kept active."""
    rows = {
        row.phone: row
        for row in Contact.select().where(
            Contact.source == source, Contact.external_id == record.external_id
        )
    }
    kept = set()
    phones = []
    for raw in record.phones:
        phone = to_e164(raw, region)
        if phone is None:
            report.skipped.append(
                (record.external_id, f"phone {raw!r} is not a number")
            )
        elif phone not in phones:
            phones.append(phone)
    for phone in phones:
        row = rows.pop(phone, None) or _adopt(company, phone)
        row.company = company
        row.name = record.name
        row.phone = phone
        row.email = record.email
        row.source = source
        row.external_id = record.external_id
        row.active = record.active
        row.save()
        report.contacts += 1
        if record.active:
            kept.add(row.id)
    for row in rows.values():  # numbers the PSA no longer lists for this contact
        if row.active:
            row.active = False
            row.save()
            report.deactivated += 1
    if not record.active:
        report.deactivated += len(phones)
    return kept


def _adopt(company, phone):
    existing = Contact.get_or_none(Contact.company == company, Contact.phone == phone)
    return existing or Contact(company=company, phone=phone)
