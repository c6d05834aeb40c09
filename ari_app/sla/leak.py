"""``msp-intake report leak``: the contacts that slipped, and what they put at risk.

Like the missed-call calculators MSPs pass around, it multiplies what slipped by
what a client is worth, but from our own tickets and with every step written
out. Per client, over a period:

* abandoned calls nobody called back (no first response recorded),
* calls that rang outside the client's business hours,
* contacts with no workable ticket (still ``in_call`` long after the call),
* breached P1s.

Each abandoned call, stuck contact and breached P1 is a miss. The share of a
client's annual value at risk is ``misses x risk_per_miss + after-hours calls x
risk_per_after_hours`` (at most 100%); the value comes from the contract's
``monthly_value`` (or ``[sla.leak] monthly_value``); clients whose renewal month
falls within ``renewal_window`` months are totalled apart, since that is where
the money is decided.
"""

import dataclasses
import datetime
import json

from peewee import JOIN
from tabulate import tabulate

from ..models import ABANDONED, IN_CALL, Company, Ticket, utcnow
from . import services
from .reports import UNMATCHED


@dataclasses.dataclass
class ClientLeak:
    name: str
    abandoned: int = 0
    called_back: int = 0
    after_hours: int = 0
    no_ticket: int = 0
    breached_p1: int = 0
    tickets: list = dataclasses.field(default_factory=list)

    @property
    def misses(self):
        return self.abandoned + self.no_ticket + self.breached_p1


def collect(settings, period, company=None, now=None):
    """Count what slipped per client; every ticket in the period is looked at."""
    now = now or utcnow()
    start, end = period.bounds()
    stuck_before = now - datetime.timedelta(seconds=settings.leak["stuck_after"])
    query = (
        Ticket.select(Ticket, Company)
        .join(Company, on=(Ticket.company == Company.id), join_type=JOIN.LEFT_OUTER)
        .where((Ticket.contact_at >= start) & (Ticket.contact_at < end))
        .order_by(Ticket.contact_at, Ticket.id)
    )
    if company:
        query = query.where(Company.name.in_(services.client_names(company)))
    clients = {}
    for ticket in query.iterator():
        name = ticket.company.name if ticket.company_id else UNMATCHED
        leak = clients.setdefault(name, ClientLeak(name))
        _count(settings, leak, ticket, now, stuck_before)
    return clients


def _count(settings, leak, ticket, now, stuck_before):
    if ticket.status == ABANDONED:
        if ticket.first_response_at is None:
            leak.abandoned += 1
            leak.tickets.append((ticket.reference, "abandoned"))
        else:
            leak.called_back += 1
    if ticket.source == "phone" and _after_hours(settings, leak.name, ticket):
        leak.after_hours += 1
    stuck = ticket.ended_at is not None or ticket.contact_at < stuck_before
    if ticket.status == IN_CALL and stuck:
        leak.no_ticket += 1
        leak.tickets.append((ticket.reference, "no ticket"))
    if ticket.priority == "P1" and services.sla_state(ticket, now) == "breached":
        leak.breached_p1 += 1
        leak.tickets.append((ticket.reference, "breached P1"))


def _after_hours(settings, name, ticket):
    policy = settings.policy_for(None if name == UNMATCHED else name)
    calendar = business_calendar(policy)
    return calendar is not None and not calendar.is_open(ticket.contact_at)


def business_calendar(policy):
    """The policy's business-hours calendar (the one its non-24x7 targets use)."""
    for priority in ("P4", "P3", "P2", "P1"):
        target = policy.target(priority)
        if not target.calendar.always_open:
            return target.calendar
    return None


def months_to_renewal(renewal, on):
    """Whole months from ``on``'s month to the next renewal month (0: this month)."""
    if renewal is None:
        return None
    return (renewal - on.month) % 12


def assess(settings, clients, as_of):
    """The money side: for each client what its misses put at risk, and how."""
    inputs = settings.leak
    money = _money_format(inputs["currency"])
    rows = []
    for leak in sorted(clients.values(), key=lambda c: c.name):
        if not (leak.misses or leak.after_hours):
            continue
        rows.append(_assess_client(settings, leak, as_of, money))
    window = inputs["renewal_window"]
    soon = [row for row in rows if row["renewal_soon"]]
    return {
        "inputs": dict(inputs),
        "as_of": as_of.isoformat(),
        "clients": rows,
        "total_at_risk": sum(row["at_risk"] or 0 for row in rows),
        "renewing_soon_at_risk": sum(row["at_risk"] or 0 for row in soon),
        "renewal_window": window,
        "totals": {
            key: sum(row[key] for row in rows)
            for key in ("abandoned", "after_hours", "no_ticket", "breached_p1")
        },
    }


def _assess_client(settings, leak, as_of, money):
    inputs = settings.leak
    row = {
        "client": leak.name,
        "abandoned": leak.abandoned,
        "called_back": leak.called_back,
        "after_hours": leak.after_hours,
        "no_ticket": leak.no_ticket,
        "breached_p1": leak.breached_p1,
        "tickets": [f"{ref} ({why})" for ref, why in leak.tickets],
        "monthly_value": None,
        "risk_share": None,
        "at_risk": None,
        "renewal_month": None,
        "months_to_renewal": None,
        "renewal_soon": False,
    }
    if leak.name == UNMATCHED:
        row["how"] = "callers matched to no client: no contract value to put at risk"
        return row
    policy = settings.policy_for(leak.name)
    monthly = policy.monthly_value
    if monthly is None:
        monthly = inputs["monthly_value"]
    share = min(
        1.0,
        leak.misses * inputs["risk_per_miss"]
        + leak.after_hours * inputs["risk_per_after_hours"],
    )
    at_risk = monthly * 12 * share
    months = months_to_renewal(policy.renewal, as_of)
    row.update(
        monthly_value=monthly,
        risk_share=share,
        at_risk=at_risk,
        renewal_month=policy.renewal,
        months_to_renewal=months,
        renewal_soon=months is not None and months <= inputs["renewal_window"],
    )
    row["how"] = (
        f"({leak.abandoned} abandoned + {leak.no_ticket} no ticket + "
        f"{leak.breached_p1} breached P1) x {inputs['risk_per_miss']:.0%} + "
        f"{leak.after_hours} after hours x {inputs['risk_per_after_hours']:.0%} "
        f"= {share:.0%} of {money(monthly)}/month x 12 = {money(at_risk)}"
    )
    return row


def _money_format(currency):
    return lambda amount: f"{currency}{amount:,.0f}"


def render_table(assessment, period):
    money = _money_format(assessment["inputs"]["currency"])
    lines = [
        f"Missed-contact report {period.first} to {period.last} ({period.timezone})",
        "",
    ]
    rows = [
        [
            row["client"],
            row["abandoned"],
            row["after_hours"],
            row["no_ticket"],
            row["breached_p1"],
            "-" if row["at_risk"] is None else money(row["at_risk"]),
            _renewal_text(row),
        ]
        for row in assessment["clients"]
    ]
    if not rows:
        lines.append("Nothing slipped in this period.")
        return "\n".join(lines)
    headers = [
        "client",
        "abandoned",
        "after hours",
        "no ticket",
        "breached P1",
        "at risk",
        "renewal",
    ]
    lines.append(tabulate(rows, headers=headers))
    lines += ["", "How each figure was computed:"]
    for row in assessment["clients"]:
        lines.append(f"  {row['client']}: {row['how']}")
        if row["tickets"]:
            lines.append(f"    tickets: {', '.join(row['tickets'])}")
    window = assessment["renewal_window"]
    lines += [
        "",
        f"Total at risk: {money(assessment['total_at_risk'])} "
        f"(sum of the clients above)",
        f"Of which renewing within {window} months: "
        f"{money(assessment['renewing_soon_at_risk'])}",
    ]
    return "\n".join(lines)


def _renewal_text(row):
    months = row["months_to_renewal"]
    if months is None:
        return "-"
    when = "this month" if months == 0 else f"in {months} months"
    return when + (" (soon)" if row["renewal_soon"] else "")


def render_json(assessment, period):
    data = {
        "period": {
            "from": period.first.isoformat(),
            "to": period.last.isoformat(),
            "timezone": period.timezone,
        },
        **assessment,
    }
    return json.dumps(data, indent=2)


def build(settings, period, company=None, now=None):
    now = now or utcnow()
    clients = collect(settings, period, company, now)
    return assess(settings, clients, period.last)
