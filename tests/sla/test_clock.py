"""The clock on real tickets: contact time, priority changes, first responses."""

import datetime
import re
import sqlite3

import pytest

from ari_app import board, models, store
from ari_app.models import Ticket, TicketEvent, utcnow
from ari_app.sla import policies, services
from ari_app.sla.exceptions import SlaError
from ari_app.sla.models import TICKET_COLUMNS

from .conftest import SLA, make_ticket, utc


def test_clock_starts_at_contact_not_at_creation(db, write_sla_config):
    # A 24x7 contract so wall time is clock time. The ticket row is written now,
    # 40 minutes after the PBX saw the call: the clock is 40 minutes in.
    settings = services.current_settings()
    contact = utcnow() - datetime.timedelta(minutes=40)
    ticket = make_ticket(contact, "P1")
    assert ticket.created_at - ticket.contact_at >= datetime.timedelta(minutes=40)
    assert ticket.first_response_due == contact + datetime.timedelta(minutes=15)
    assert services.sla_state(ticket, utcnow()) == services.BREACHED
    calendar = settings.default.target("P1").calendar
    spent = calendar.elapsed(ticket.contact_at, ticket.created_at)
    assert 40 * 60 <= spent < 41 * 60


def test_priority_change_recomputes_from_the_same_contact(db):
    # Fri 2026-11-20 17:59 EST: P3 due Mon 13:00 EST; as P1 (24x7) 18:14 EST.
    ticket = make_ticket(utc("2026-11-20T22:59"), "P3")
    assert ticket.first_response_due == utc("2026-11-23T18:00")
    store.update_ticket(ticket.id, priority="P1")
    reloaded = Ticket.get_by_id(ticket.id)
    assert reloaded.first_response_due == utc("2026-11-20T23:14")
    assert reloaded.contact_at == utc("2026-11-20T22:59")


def test_company_match_applies_its_contract(db, companies):
    # London Law runs on London hours: Fri 16:00 GMT P3 -> Mon 11:00 GMT.
    ticket = make_ticket(utc("2026-03-27T16:00"), "P3")
    assert ticket.sla_policy == "default"
    store.update_ticket(ticket.id, company=companies["London Law"])
    reloaded = Ticket.get_by_id(ticket.id)
    assert reloaded.sla_policy == "London Law"
    assert reloaded.first_response_due == utc("2026-03-30T11:00")


def test_first_response_is_recorded_with_who_and_how(db):
    ticket = make_ticket(utc("2026-11-20T22:59"), "P3")
    assert services.record_first_response(
        ticket.id, utc("2026-11-23T14:30"), "dana", "page"
    )
    reloaded = Ticket.get_by_id(ticket.id)
    assert (reloaded.first_response_by, reloaded.first_response_via) == ("dana", "page")
    assert reloaded.first_response_seconds == 1800
    assert services.sla_state(reloaded, utcnow()) == services.MET
    kinds = [e.kind for e in TicketEvent.select().where(TicketEvent.ticket == ticket)]
    assert "first_response" in kinds


def test_the_earliest_first_response_wins(db):
    ticket = make_ticket(utc("2026-11-17T15:15"), "P2")
    services.record_first_response(ticket.id, utc("2026-11-17T16:00"), "psa", "psa")
    assert not services.record_first_response(
        ticket.id, utc("2026-11-17T16:30"), "dana", "cli"
    )
    assert services.record_first_response(
        f"MSP-{ticket.id}", utc("2026-11-17T15:30"), "dana", "cli"
    )
    reloaded = Ticket.get_by_id(ticket.id)
    assert (reloaded.first_response_at, reloaded.first_response_by) == (
        utc("2026-11-17T15:30"),
        "dana",
    )


def test_late_first_response_is_breached(db):
    ticket = make_ticket(utc("2026-11-17T15:15"), "P2")  # due 16:15Z
    services.record_first_response(ticket.id, utc("2026-11-17T16:16"), "dana")
    assert services.sla_state(Ticket.get_by_id(ticket.id), utcnow()) == "breached"


@pytest.mark.parametrize(
    ("at", "problem"),
    [("2026-11-17T15:00", "before the contact"), ("2099-01-01T00:00", "future")],
)
def test_impossible_first_response_times_are_refused(db, at, problem):
    ticket = make_ticket(utc("2026-11-17T15:15"), "P2")
    with pytest.raises(SlaError, match=problem):
        services.record_first_response(ticket.id, utc(at), "dana")
    assert Ticket.get_by_id(ticket.id).first_response_at is None


def test_unknown_ticket_is_an_error(db):
    with pytest.raises(SlaError, match="no ticket MSP-999"):
        services.record_first_response("MSP-999", utcnow(), "dana")


def test_pause_and_resume_move_resolution_only(db):
    # P2 contact Tue 09:00 EST: resolution due 17:00 EST; 2h waiting on the
    # client (10:00-12:00 EST) moves it to Wed 11:00 EST = 16:00Z.
    ticket = make_ticket(utc("2026-11-17T14:00"), "P2")
    first_due = ticket.first_response_due
    services.pause_resolution(ticket.id, utc("2026-11-17T15:00"))
    assert Ticket.get_by_id(ticket.id).resolution_due is None
    services.resume_resolution(ticket.id, utc("2026-11-17T17:00"))
    reloaded = Ticket.get_by_id(ticket.id)
    assert reloaded.resolution_due == utc("2026-11-18T16:00")
    assert reloaded.first_response_due == first_due


def test_resolution_counts_as_first_response_when_none_came(db):
    ticket = make_ticket(utc("2026-11-17T14:00"), "P2")
    services.record_resolution(ticket.id, utc("2026-11-17T14:40"), "dana", "psa")
    reloaded = Ticket.get_by_id(ticket.id)
    assert reloaded.resolved_at == reloaded.first_response_at == utc("2026-11-17T14:40")


def test_ticket_json_fields(db):
    board.add_ticket_fields(services.ticket_fields)
    ticket = make_ticket(utc("2026-11-20T22:59"), "P3")
    services.record_first_response(ticket.id, utc("2026-11-23T14:30:00.123"), "dana")
    data = board.ticket_to_dict(Ticket.get_by_id(ticket.id))
    assert data["first_response_due"] == "2026-11-23T18:00:00.000Z"
    assert data["first_response_at"] == "2026-11-23T14:30:00.123Z"
    assert data["first_response_by"] == "dana"
    assert data["sla_state"] == "met"


def test_a_store_from_before_gets_the_sla_columns(tmp_path, settings):
    # Build a ticket table without the SLA columns, as an older version left it.
    path = tmp_path / "old.sqlite3"
    store.open_store(str(path))
    store.close_store()
    raw = sqlite3.connect(path)
    (create,) = raw.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'ticket'"
    ).fetchone()
    for column in TICKET_COLUMNS:
        create = re.sub(rf',\s*"{column}" [^,]*', "", create)
    assert "first_response" not in create
    raw.executescript(f"DROP TABLE ticket; {create};")
    raw.close()
    services.install(settings)
    store.open_store(str(path))
    try:
        present = {c.name for c in models.database.get_columns("ticket")}
        assert set(TICKET_COLUMNS) <= present
        ticket = make_ticket(utc("2026-11-17T15:15"), "P2")
        assert Ticket.get_by_id(ticket.id).first_response_due == utc("2026-11-17T16:15")
    finally:
        store.close_store()


def test_recompute_all_applies_a_contract_change(db, companies, write_sla_config):
    # Acme's P3 drops from 4 business hours to 1h on 24x7: Fri 17:59 EST
    # (22:59Z) becomes due at 23:59Z the same evening.
    acme = companies["Acme Dental"]
    ticket = make_ticket(utc("2026-11-20T22:59"), "P3", acme)
    other = make_ticket(utc("2026-11-20T22:59"), "P3")
    assert services.recompute_all() == 0
    changed = SLA.replace(
        "[sla.contract Acme Dental]\n",
        "[sla.contract Acme Dental]\np3_first_response = 1h\np3_calendar = 24x7\n",
    )
    faster = policies.load_settings(write_sla_config(changed))
    services.install(faster)
    assert services.recompute_all() == 1
    assert Ticket.get_by_id(ticket.id).first_response_due == utc("2026-11-20T23:59")
    assert Ticket.get_by_id(other.id).first_response_due == utc("2026-11-23T18:00")
    assert services.recompute_all() == 0  # what was written reads back the same
