"""The SLA and missed-contact reports agree with the tickets they count.

November 2026 in New York, worked out by hand (ticket numbers in order):

 1 Northwind P2 Tue 17th 10:15 EST, answered after 10m            met
 2 Northwind P2 Tue 17th 11:00 EST, due 12:00, answered 12:30     breached (90m)
 3 Acme P1 Sun 15th 03:00 EST, answered after 5m (24x7)           met
 4 Acme P1 Sun 15th 04:00 EST, never answered                     breached
 5 Acme P3 Fri 20th 17:59 EST by e-mail, answered Mon 09:30       met (30m)
 6 Northwind, abandoned during triage Tue 17th 18:30 EST          no clock
 7 London Law P4 Tue 17th 10:00 GMT, answered after 1h            met
 8 Northwind, still "in_call" from Wed 18th 10:00 EST             no clock
 9 Northwind P2 in October                                        outside
"""

import csv
import datetime
import io
import json

import pytest

from ari_app import board, store
from ari_app.models import Ticket, utcnow
from ari_app.sla import leak, reports, services

from .conftest import make_ticket, utc

NOVEMBER = reports.Period(
    datetime.date(2026, 11, 1), datetime.date(2026, 11, 30), "America/New_York"
)


@pytest.fixture
def november(companies):
    acme, law, north = (
        companies["Acme Dental"],
        companies["London Law"],
        companies["Northwind"],
    )
    answers = [
        (make_ticket(utc("2026-11-17T15:15"), "P2", north), "2026-11-17T15:25"),
        (make_ticket(utc("2026-11-17T16:00"), "P2", north), "2026-11-17T17:30"),
        (make_ticket(utc("2026-11-15T08:00"), "P1", acme), "2026-11-15T08:05"),
        (make_ticket(utc("2026-11-15T09:00"), "P1", acme), None),
        (
            make_ticket(utc("2026-11-20T22:59"), "P3", acme, source="email"),
            "2026-11-23T14:30",
        ),
        (make_ticket(utc("2026-11-17T23:30"), None, north, status="abandoned"), None),
        (make_ticket(utc("2026-11-17T10:00"), "P4", law), "2026-11-17T11:00"),
    ]
    for ticket, at in answers:
        if at:
            services.record_first_response(ticket.id, utc(at), "dana", "psa")
    store.open_ticket("stuck-call", utc("2026-11-18T15:00"), company=north)
    make_ticket(utc("2026-10-15T15:00"), "P2", north)


@pytest.fixture
def report(settings, november):
    return reports.build(settings, NOVEMBER)


def test_overall_figures(report):
    overall = report["overall"]
    assert (overall["tickets"], overall["phone"], overall["other"]) == (8, 7, 1)
    assert (overall["abandoned"], overall["with_clock"]) == (1, 6)
    assert (overall["met"], overall["breached"]) == (4, 2)
    assert overall["met_share"] == pytest.approx(4 / 6)
    # Times 300, 600, 1800, 3600, 5400: median 1800; 90th percentile by nearest
    # rank is the ceil(0.9 x 5) = 5th value.
    assert overall["median_seconds"] == 1800
    assert overall["p90_seconds"] == 5400
    assert overall["breached_tickets"] == ["MSP-4", "MSP-2"]  # in contact order


def test_per_priority(report):
    groups = {g["name"]: g for g in report["by_priority"]}
    assert set(groups) == {"P1", "P2", "P3", "P4", "(none)"}
    assert (groups["P1"]["met"], groups["P1"]["breached"]) == (1, 1)
    assert groups["P1"]["median_seconds"] == 300
    assert groups["P2"]["median_seconds"] == 3000  # (600 + 5400) / 2
    assert groups["P2"]["breached_tickets"] == ["MSP-2"]
    assert groups["P3"]["other"] == 1
    assert groups["(none)"]["tickets"] == 2
    assert groups["(none)"]["met_share"] is None


def test_per_client(report):
    groups = {g["name"]: g for g in report["by_client"]}
    assert groups["Acme Dental"]["met_share"] == pytest.approx(2 / 3)
    assert groups["Northwind"]["tickets"] == 4
    assert groups["Northwind"]["abandoned"] == 1
    assert groups["London Law"]["median_seconds"] == 3600


def test_breaches_list_their_tickets(report):
    late = {b["ticket"]: b for b in report["breaches"]}
    assert set(late) == {"MSP-2", "MSP-4"}
    assert late["MSP-2"]["late_seconds"] == 1800
    assert late["MSP-4"]["first_response_at"] is None


def test_report_agrees_with_tickets_json(report):
    # Count sla_state over the same tickets as ``tickets --json`` shows them.
    board.add_ticket_fields(services.ticket_fields)
    shown = [
        board.ticket_to_dict(t)
        for t in Ticket.select()
        if t.contact_at >= utc("2026-11-01T05:00")
    ]
    states = [t["sla_state"] for t in shown]
    overall = report["overall"]
    assert len(shown) == overall["tickets"]
    assert states.count("met") == overall["met"]
    assert states.count("breached") == overall["breached"]
    breached = sorted(t["reference"] for t in shown if t["sla_state"] == "breached")
    assert breached == sorted(overall["breached_tickets"])


def test_company_filter(settings, november):
    period = reports.default_period(
        settings, utc("2026-11-01T00:00").date(), utc("2026-11-30T00:00").date()
    )
    only = reports.build(settings, period, company="acme dental")
    assert only["overall"]["tickets"] == 3
    assert [g["name"] for g in only["by_client"]] == ["Acme Dental"]


def test_csv_rows_match_the_figures(report):
    rows = list(csv.DictReader(io.StringIO(reports.render_csv(report))))
    first = rows[0]
    assert (first["scope"], first["tickets"], first["met_share"]) == (
        "all",
        "8",
        "0.6667",
    )
    assert first["breached_tickets"] == "MSP-4 MSP-2"
    assert {r["name"] for r in rows if r["scope"] == "client"} == {
        "Acme Dental",
        "London Law",
        "Northwind",
    }


def test_json_round_trips(report):
    data = json.loads(reports.render_json(report))
    assert data["overall"]["met"] == 4
    assert sum(b["count"] for b in data["distribution"]) == 5


def test_table_shows_local_times(report):
    text = reports.render_table(report)
    # MSP-4: contact 09:00Z on 15 Nov is 04:00 EST; due 15 minutes later.
    assert "2026-11-15 04:00 EST" in text and "2026-11-15 04:15 EST" in text
    assert "66.7%" in text


def test_html_is_self_contained_with_both_charts(report):
    page = reports.render(report, "html")
    assert page.startswith("<!DOCTYPE html>")
    assert page.count("<svg") == 2
    assert "http://" not in page.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in page and "<script" not in page
    assert "MSP-4" in page


def test_compliance_per_day(report):
    days = {p["date"]: p for p in report["compliance"]}
    # 15 Nov: MSP-3 met, MSP-4 breached; 17 Nov: MSP-1 met, MSP-2 breached and
    # MSP-7 (05:00 EST) met.
    assert (days["2026-11-15"]["met"], days["2026-11-15"]["breached"]) == (1, 1)
    assert (days["2026-11-17"]["met"], days["2026-11-17"]["breached"]) == (2, 1)


def test_leak_report(settings, november):
    period = NOVEMBER
    result = leak.build(settings, period, now=utcnow())
    clients = {row["client"]: row for row in result["clients"]}
    # Acme: MSP-3 and MSP-4 rang on a Sunday (after hours; MSP-5 was e-mail),
    # MSP-4 is a breached P1. 1 x 10% + 2 x 2% = 14% of 1000 x 12 = 1680.
    acme = clients["Acme Dental"]
    assert (acme["after_hours"], acme["breached_p1"], acme["abandoned"]) == (2, 1, 0)
    assert acme["at_risk"] == pytest.approx(1680)
    assert acme["how"].endswith("= 14% of $1,000/month x 12 = $1,680")
    assert (acme["months_to_renewal"], acme["renewal_soon"]) == (1, True)
    # Northwind: MSP-6 abandoned at 18:30 EST (after hours too), the stuck call:
    # 2 x 10% + 1 x 2% = 22% of the default 500 x 12 = 1320.
    north = clients["Northwind"]
    assert (north["abandoned"], north["no_ticket"], north["after_hours"]) == (1, 1, 1)
    assert north["at_risk"] == pytest.approx(1320)
    assert "London Law" not in clients  # nothing slipped
    assert result["total_at_risk"] == pytest.approx(3000)
    assert result["renewing_soon_at_risk"] == pytest.approx(1680)
    text = leak.render_table(result, period)
    assert "Total at risk: $3,000" in text and "MSP-4 (breached P1)" in text


def test_a_called_back_abandoned_call_is_not_a_miss(settings, companies):
    ticket = make_ticket(
        utc("2026-11-17T15:00"), None, companies["Northwind"], status="abandoned"
    )
    services.record_first_response(ticket.id, utc("2026-11-17T15:10"), "dana", "cli")
    period = NOVEMBER
    assert leak.build(settings, period)["clients"] == []
