"""The SLA clock's commands: ``sla report``, ``ack``, ``report leak``.

``register(subparsers)`` adds them (and ``sla recompute``) to the core parser.
Each handler gets ``(args, config)`` once the store is open, reads ``[sla]`` (a bad
setting is a one-line error), prints its output and returns the exit code: 0, or 2
for bad input.
"""

import argparse
import datetime
import sys
import zoneinfo

from .. import board
from ..exceptions import MspIntakeError
from ..models import ABANDONED, IN_CALL, utcnow
from . import leak, policies, reports, services


def register(subparsers):
    board.add_ticket_fields(services.ticket_fields)

    sla = subparsers.add_parser("sla", help="the SLA clock: reports and upkeep")
    sla_commands = sla.add_subparsers(dest="sla_command", required=True)
    report = sla_commands.add_parser(
        "report", help="first-response compliance per priority and client"
    )
    _period_arguments(report)
    report.add_argument("--format", choices=reports.FORMATS, default="table")
    report.add_argument("--output", "-o", help="write to this file, not stdout")
    report.set_defaults(func=sla_report)
    recompute = sla_commands.add_parser(
        "recompute", help="recompute every ticket's due times after a contract change"
    )
    recompute.set_defaults(func=sla_recompute)

    ack = subparsers.add_parser("ack", help="record the first response to a ticket")
    ack.add_argument("ticket", help="ticket number, like 12 or MSP-12")
    ack.add_argument("--by", required=True, help="who responded")
    ack.add_argument(
        "--at",
        help="when (ISO 8601, like 2026-12-03T14:05; without an offset it is read "
        "in [sla] timezone); default now",
    )
    ack.add_argument("--via", default="cli", help="how (default: cli)")
    ack.set_defaults(func=ack_ticket)

    report_parser = subparsers.add_parser("report", help="management reports")
    report_commands = report_parser.add_subparsers(dest="report_command", required=True)
    leak_parser = report_commands.add_parser(
        "leak", help="missed contacts and what they put at risk"
    )
    _period_arguments(leak_parser)
    leak_parser.add_argument("--format", choices=("table", "json"), default="table")
    leak_parser.set_defaults(func=report_leak)


def _period_arguments(parser):
    parser.add_argument("--from", dest="first", help="first contact date, YYYY-MM-DD")
    parser.add_argument("--to", dest="last", help="last contact date, YYYY-MM-DD")
    parser.add_argument("--company", help="one client, by its name")


def _prepare(config):
    settings = policies.load_settings(config)
    services.install(settings)
    return settings


def _fail(message):
    print(f"msp-intake: {message}", file=sys.stderr)
    return 2


def _period(settings, args):
    first = _date("--from", args.first)
    last = _date("--to", args.last)
    period = reports.default_period(settings, first, last)
    if period.first > period.last:
        raise services.SlaError(f"--from {period.first} is after --to {period.last}")
    return period


# Dates a period may use: the report turns them into UTC instants in the MSP's
# zone and steps a day or a month past them, which Python's dates cannot do at
# year 1 or year 9999.
EARLIEST = datetime.date(1900, 1, 1)
LATEST = datetime.date(9998, 12, 31)


def _date(option, text):
    if text is None:
        return None
    try:
        date = datetime.date.fromisoformat(text)
    except ValueError:
        raise services.SlaError(
            f"{option} {text!r} is not a date like 2026-12-03"
        ) from None
    if not EARLIEST <= date <= LATEST:
        raise services.SlaError(
            f"{option} {text} is out of range ({EARLIEST} to {LATEST})"
        )
    return date


def parse_time(text, timezone):
    """``--at``: ISO 8601 to naive UTC; a time without an offset is in ``timezone``."""
    if text is None or text.lower() == "now":
        return utcnow()
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        raise services.SlaError(
            f"--at {text!r} is not a time like 2026-12-03T14:05 or 2026-12-03T19:05Z"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zoneinfo.ZoneInfo(timezone))
    return moment.astimezone(datetime.UTC).replace(tzinfo=None)


def sla_report(args, config):
    try:
        settings = _prepare(config)
        report = reports.build(settings, _period(settings, args), args.company)
    except MspIntakeError as exc:
        return _fail(exc)
    unknown = services.unknown_contracts(settings)
    if unknown:
        print(f"msp-intake: warning: {unknown}", file=sys.stderr)
    text = reports.render(report, args.format)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
        print(f"wrote {args.output}")
    else:
        print(text)
    return 0


def sla_recompute(args, config):
    try:
        settings = _prepare(config)
    except MspIntakeError as exc:
        return _fail(exc)
    moved = services.recompute_all(settings)
    print(f"{moved} tickets got new due times")
    return 0


def ack_ticket(args, config):
    try:
        settings = _prepare(config)
        at = parse_time(args.at, settings.timezone)
        changed = services.record_first_response(args.ticket, at, args.by, args.via)
        ticket = services.find_ticket(args.ticket)
    except MspIntakeError as exc:
        return _fail(exc)
    if changed:
        print(
            f"{ticket.reference}: first response {board.iso_utc(at)} by "
            f"{ticket.first_response_by} ({_state_words(ticket)})"
        )
    else:
        print(
            f"{ticket.reference}: kept the earlier first response "
            f"{board.iso_utc(ticket.first_response_at)} by {ticket.first_response_by}"
        )
    return 0


def _state_words(ticket):
    """The ticket's SLA state, or why it has no clock to be met or breached."""
    state = services.sla_state(ticket, utcnow())
    if state is not None:
        return state
    if ticket.status == ABANDONED:
        return "no SLA clock: the caller hung up before triage"
    if ticket.status == IN_CALL:
        return "no SLA clock yet: the caller is still in the IVR"
    return "no SLA clock: the ticket has no priority"


def report_leak(args, config):
    try:
        settings = _prepare(config)
        period = _period(settings, args)
        assessment = leak.build(settings, period, args.company)
    except MspIntakeError as exc:
        return _fail(exc)
    if args.format == "json":
        print(leak.render_json(assessment, period))
    else:
        print(leak.render_table(assessment, period))
    return 0


def build_parser():
    """A parser with only these commands, for the tests (core main adds the rest)."""
    parser = argparse.ArgumentParser(prog="msp-intake")
    register(parser.add_subparsers(dest="command", required=True))
    return parser
