"""Fixtures for the SLA clock's tests: a real SQLite store and a config file."""

import datetime
import textwrap

import pytest

from ari_app import store
from ari_app.config import load_config
from ari_app.models import Company
from ari_app.sla import policies, services

BASE = """
[ari]
url = http://127.0.0.1:8088
username = msp-intake
password = secret
"""

# Two MSP desks, as the hand-checked cases need them: New York and London.
SLA = """
[sla]
timezone = America/New_York
calendar = ny

[sla.calendar ny]
timezone = America/New_York
hours = mon-fri 09:00-17:00
holidays = US
closed = 2026-12-24

[sla.calendar london]
timezone = Europe/London
hours = mon-fri 09:00-17:00
holidays = GB
subdivision = ENG

[sla.contract London Law]
calendar = london
monthly_value = 2000
renewal = February

[sla.contract Acme Dental]
monthly_value = 1000
renewal = 12

[sla.leak]
monthly_value = 500
risk_per_miss = 0.1
risk_per_after_hours = 0.02
"""


def utc(text):
    """``2026-12-04T22:59`` as the store keeps it: naive UTC."""
    return datetime.datetime.fromisoformat(text)


@pytest.fixture
def write_sla_config(tmp_path):
    def write(sla=SLA):
        path = tmp_path / "msp-intake.conf"
        path.write_text(textwrap.dedent(BASE) + textwrap.dedent(sla))
        return load_config(str(path))

    return write


@pytest.fixture
def config(write_sla_config):
    return write_sla_config()


@pytest.fixture
def settings(config):
    return policies.load_settings(config)


@pytest.fixture
def db(tmp_path, settings):
    """A real store file with the SLA clock installed; closed afterwards."""
    services.install(settings)
    store.open_store(str(tmp_path / "intake.sqlite3"))
    yield tmp_path / "intake.sqlite3"
    store.close_store()


@pytest.fixture
def companies(db):
    return {
        name: Company.create(name=name)
        for name in ("Acme Dental", "London Law", "Northwind")
    }


_channel = iter(range(1, 1_000_000))


def make_ticket(contact_at, priority="P3", company=None, **fields):
    """Open a ticket through the store, as the call flow does, then triage it."""
    fields.setdefault("status", "open")
    ticket, _ = store.open_ticket(
        f"test-{next(_channel)}",
        contact_at,
        company=company,
        **{k: v for k, v in fields.items() if k != "status"},
    )
    return store.update_ticket(ticket.id, priority=priority, status=fields["status"])
