"""``msp-intake sla report``: how the SLA clock did, from the tickets themselves.

The figures are computed from the stored tickets of a period (by contact time)
and nothing else, so anyone can check them against ``tickets --json``: per
priority and per client, the share of first responses met, the median and 90th
percentile time to first response, the breaches with their tickets, phone
contacts against others, and abandoned calls. Time to first response is counted
on the ticket's SLA calendar (what the contract measures); the breach list shows
wall-clock times in the client's time zone.
"""

import collections
import csv
import dataclasses
import datetime
import io
import json
import math
import statistics
import zoneinfo

from peewee import JOIN
from tabulate import tabulate

from .. import board
from ..models import ABANDONED, Company, Ticket, utcnow
from . import services

UNMATCHED = "(unmatched)"
NO_PRIORITY = "(none)"
FORMATS = ("table", "csv", "json", "html")
DEFAULT_DAYS = 30

# Buckets for the distribution of time to first response, in seconds.
BUCKETS = (
    ("< 5m", 300),
    ("5-15m", 900),
    ("15-30m", 1800),
    ("30m-1h", 3600),
    ("1-2h", 7200),
    ("2-4h", 14400),
    ("4-8h", 28800),
    ("8h-1d", 86400),
    ("> 1d", math.inf),
)


@dataclasses.dataclass(frozen=True)
class Period:
    """Local dates, both included, in the MSP's time zone."""

    first: datetime.date
    last: datetime.date
    timezone: str

    def bounds(self):
        """The period as naive UTC [start, end)."""
        zone = zoneinfo.ZoneInfo(self.timezone)
        start = datetime.datetime.combine(self.first, datetime.time(), zone)
        end = datetime.datetime.combine(
            self.last + datetime.timedelta(days=1), datetime.time(), zone
        )
        return (
            start.astimezone(datetime.UTC).replace(tzinfo=None),
            end.astimezone(datetime.UTC).replace(tzinfo=None),
        )


def default_period(settings, first=None, last=None, now=None):
    """The last 30 days up to today, unless dates are given."""
    now = now or utcnow()
    today = now.replace(tzinfo=datetime.UTC).astimezone(
        zoneinfo.ZoneInfo(settings.timezone)
    )
    last = last or today.date()
    first = first or last - datetime.timedelta(days=DEFAULT_DAYS - 1)
    return Period(first, last, settings.timezone)


@dataclasses.dataclass(frozen=True)
class Row:
    """One ticket as the report counts it."""

    id: int
    company: str
    priority: str
    source: str
    status: str
    contact_at: datetime.datetime
    due: datetime.datetime | None
    responded_at: datetime.datetime | None
    responded_by: str | None
    seconds: float | None
    state: str | None

    @property
    def reference(self):
        return f"MSP-{self.id}"


def collect(period, company=None, now=None):
    """The period's tickets as report rows, in contact order."""
    now = now or utcnow()
    start, end = period.bounds()
    query = (
        Ticket.select(
            Ticket.id,
            Company.name,
            Ticket.priority,
            Ticket.source,
            Ticket.status,
            Ticket.contact_at,
            Ticket.first_response_due,
            Ticket.first_response_risk_at,
            Ticket.first_response_at,
            Ticket.first_response_by,
            Ticket.first_response_seconds,
        )
        .join(Company, on=(Ticket.company == Company.id), join_type=JOIN.LEFT_OUTER)
        .where((Ticket.contact_at >= start) & (Ticket.contact_at < end))
        .order_by(Ticket.contact_at, Ticket.id)
    )
    if company:
        query = query.where(Company.name.in_(services.client_names(company)))
    rows = []
    for values in query.tuples().iterator():
        (
            ticket_id,
            name,
            priority,
            source,
            status,
            contact_at,
            due,
            risk_at,
            responded_at,
            responded_by,
            seconds,
        ) = values
        rows.append(
            Row(
                ticket_id,
                name or UNMATCHED,
                priority or NO_PRIORITY,
                source,
                status,
                contact_at,
                due,
                responded_at,
                responded_by,
                seconds,
                services.state_of(due, risk_at, responded_at, now),
            )
        )
    return rows


# -- the figures -------------------------------------------------------------------


def nearest_rank(values, share):
    """The smallest value with at least ``share`` of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(share * len(ordered))) - 1]


def summarize(rows):
    """Counts and times for one group of rows (a priority, a client, all)."""
    states = collections.Counter(row.state for row in rows)
    times = [row.seconds for row in rows if row.seconds is not None]
    met, breached = states[services.MET], states[services.BREACHED]
    decided = met + breached
    return {
        "tickets": len(rows),
        "phone": sum(1 for row in rows if row.source == "phone"),
        "other": sum(1 for row in rows if row.source != "phone"),
        "abandoned": sum(1 for row in rows if row.status == ABANDONED),
        "with_clock": sum(1 for row in rows if row.due is not None),
        "met": met,
        "breached": breached,
        "running": states[services.RUNNING],
        "at_risk": states[services.AT_RISK],
        "met_share": met / decided if decided else None,
        "median_seconds": statistics.median(times) if times else None,
        "p90_seconds": nearest_rank(times, 0.9),
        "breached_tickets": [
            row.reference for row in rows if row.state == services.BREACHED
        ],
    }


def build(settings, period, company=None, now=None):
    """Everything every format shows, as plain data."""
    now = now or utcnow()
    rows = collect(period, company, now)
    by_priority = _grouped(rows, lambda row: row.priority)
    by_client = _grouped(rows, lambda row: row.company)
    return {
        "period": {
            "from": period.first.isoformat(),
            "to": period.last.isoformat(),
            "timezone": period.timezone,
            "company": company,
        },
        "generated_at": board.iso_utc(now),
        "overall": summarize(rows),
        "by_priority": by_priority,
        "by_client": by_client,
        "breaches": [
            _breach(settings, row, now) for row in rows if row.state == "breached"
        ],
        "compliance": compliance(rows, settings.timezone, period),
        "distribution": distribution(rows),
    }


def _grouped(rows, key):
    groups = collections.defaultdict(list)
    for row in rows:
        groups[key(row)].append(row)
    return [{"name": name, **summarize(groups[name])} for name in sorted(groups)]


def _breach(settings, row, now):
    zone = settings.policy_for(None if row.company == UNMATCHED else row.company)
    late_until = row.responded_at or now
    return {
        "ticket": row.reference,
        "company": row.company,
        "priority": row.priority,
        "contact_at": board.iso_utc(row.contact_at),
        "due": board.iso_utc(row.due),
        "first_response_at": board.iso_utc(row.responded_at),
        "first_response_by": row.responded_by,
        "late_seconds": (late_until - row.due).total_seconds(),
        "timezone": zone.timezone,
    }


def compliance(rows, timezone, period):
    """Share of first responses met per local day (per week past 62 days)."""
    zone = zoneinfo.ZoneInfo(timezone)
    weekly = (period.last - period.first).days > 62
    buckets = collections.defaultdict(lambda: [0, 0])
    for row in rows:
        if row.state not in (services.MET, services.BREACHED):
            continue
        day = row.contact_at.replace(tzinfo=datetime.UTC).astimezone(zone).date()
        if weekly:
            day -= datetime.timedelta(days=day.weekday())
        buckets[day][0 if row.state == services.MET else 1] += 1
    return [
        {
            "date": day.isoformat(),
            "met": met,
            "breached": breached,
            "met_share": met / (met + breached),
        }
        for day, (met, breached) in sorted(buckets.items())
    ]


def distribution(rows):
    """How many first responses fell in each time bucket."""
    counts = [0] * len(BUCKETS)
    for row in rows:
        if row.seconds is None:
            continue
        for index, (_, upper) in enumerate(BUCKETS):
            if row.seconds < upper:
                counts[index] += 1
                break
    return [
        {"bucket": label, "count": count}
        for (label, _), count in zip(BUCKETS, counts, strict=True)
    ]


# -- the formats -------------------------------------------------------------------


def duration_text(seconds):
    """``1h05m``, ``12m``, ``45s``: short, for tables."""
    if seconds is None:
        return "-"
    seconds = round(seconds)
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{sign}{days}d{hours:02d}h"
    if hours:
        return f"{sign}{hours}h{minutes:02d}m"
    if minutes:
        return f"{sign}{minutes}m"
    return f"{sign}{secs}s"


def share_text(share):
    return "-" if share is None else f"{share * 100:.1f}%"


def local_text(iso, timezone):
    if iso is None:
        return "no response yet"
    moment = datetime.datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return moment.astimezone(zoneinfo.ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %Z")


SUMMARY_HEADERS = [
    "tickets",
    "phone",
    "other",
    "abandoned",
    "with clock",
    "met",
    "breached",
    "open",
    "at risk",
    "met share",
    "median",
    "p90",
]


def _summary_cells(group):
    return [
        group["tickets"],
        group["phone"],
        group["other"],
        group["abandoned"],
        group["with_clock"],
        group["met"],
        group["breached"],
        group["running"] + group["at_risk"],
        group["at_risk"],
        share_text(group["met_share"]),
        duration_text(group["median_seconds"]),
        duration_text(group["p90_seconds"]),
    ]


def breach_cells(breach):
    zone = breach["timezone"]
    return [
        breach["ticket"],
        breach["company"],
        breach["priority"],
        local_text(breach["contact_at"], zone),
        local_text(breach["due"], zone),
        local_text(breach["first_response_at"], zone),
        duration_text(breach["late_seconds"]),
    ]


BREACH_HEADERS = [
    "ticket",
    "client",
    "priority",
    "contact",
    "due",
    "first response",
    "late by",
]


def render_table(report):
    period = report["period"]
    parts = [
        f"SLA report {period['from']} to {period['to']} ({period['timezone']})"
        + (f", client {period['company']}" if period["company"] else ""),
        "Times to first response are on each ticket's SLA calendar; "
        "p90 is the 90th percentile (nearest rank).",
        "",
        "By priority",
        tabulate(
            [[g["name"], *_summary_cells(g)] for g in report["by_priority"]]
            + [["all", *_summary_cells(report["overall"])]],
            headers=["priority", *SUMMARY_HEADERS],
        ),
        "",
        "By client",
        tabulate(
            [[g["name"], *_summary_cells(g)] for g in report["by_client"]],
            headers=["client", *SUMMARY_HEADERS],
        ),
        "",
        f"Breaches ({len(report['breaches'])})",
    ]
    if report["breaches"]:
        parts.append(
            tabulate(
                [breach_cells(b) for b in report["breaches"]], headers=BREACH_HEADERS
            )
        )
    else:
        parts.append("none")
    return "\n".join(parts)


CSV_FIELDS = [
    "scope",
    "name",
    "tickets",
    "phone",
    "other",
    "abandoned",
    "with_clock",
    "met",
    "breached",
    "running",
    "at_risk",
    "met_share",
    "median_seconds",
    "p90_seconds",
    "breached_tickets",
]


def render_csv(report):
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    groups = [("all", {"name": "all", **report["overall"]})]
    groups += [("priority", g) for g in report["by_priority"]]
    groups += [("client", g) for g in report["by_client"]]
    for scope, group in groups:
        row = {key: group.get(key) for key in CSV_FIELDS if key != "scope"}
        row["scope"] = scope
        row["breached_tickets"] = " ".join(group["breached_tickets"])
        if row["met_share"] is not None:
            row["met_share"] = f"{row['met_share']:.4f}"
        writer.writerow(row)
    return out.getvalue()


def render_json(report):
    return json.dumps(report, indent=2)


def render(report, fmt):
    if fmt == "html":
        from .report_html import render_html

        return render_html(report)
    return {"table": render_table, "csv": render_csv, "json": render_json}[fmt](report)
