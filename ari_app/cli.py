"""The ``msp-intake`` command: the service, and the tools a sysadmin inspects it with.

``main(argv)`` is the only place that configures logging or exits. Errors the
user can fix (a bad config, a missing ticket, an unreadable file) print one line
on stderr and return 2.
"""

import argparse
import asyncio
import importlib
import logging
import sys

from . import __version__, board, config, store
from .exceptions import AriAuthError, ConfigError, MspIntakeError
from .models import Ticket

logger = logging.getLogger(__name__)

# Packages that add their own subcommands with register(subparsers).
COMMAND_MODULES = (
    "ari_app.speech.cli",
    "ari_app.psa.cli",
    "ari_app.sla.cli",
)


class UsageError(MspIntakeError):
    """Bad input on the command line."""


def build_parser():
    parser = argparse.ArgumentParser(
        prog="msp-intake",
        description="Every inbound support call becomes a timestamped ticket.",
    )
    parser.add_argument("--version", action="version", version=__version__)
    parser.add_argument(
        "-c",
        "--config",
        default=None,
        help=f"configuration file (default {config.DEFAULT_PATH})",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run the Stasis application (the service)")
    run.set_defaults(func=cmd_run, needs_store=False)

    tickets = sub.add_parser("tickets", help="list tickets, or show one")
    tickets.add_argument("--json", action="store_true", help="print a JSON array")
    tickets.add_argument("--status", choices=("in_call", "open", "abandoned"))
    tickets.add_argument(
        "--limit", type=positive_int, default=None, help="only the N most recent"
    )
    tickets.set_defaults(func=cmd_tickets)
    tickets_sub = tickets.add_subparsers(dest="tickets_command", metavar="show")
    show = tickets_sub.add_parser("show", help="one ticket with its timeline")
    show.add_argument("ticket", help="ticket number, e.g. 42 or MSP-42")
    show.add_argument("--json", action="store_true", dest="show_json")
    show.set_defaults(func=cmd_ticket_show)

    directory = sub.add_parser("directory", help="the client directory")
    directory_sub = directory.add_subparsers(dest="directory_command", metavar="ACTION")
    directory_sub.required = True
    load = directory_sub.add_parser(
        "import", help="load companies and contacts from CSV"
    )
    load.add_argument("file", help="CSV with company, contact, phone columns")
    load.set_defaults(func=cmd_directory_import)

    demo = sub.add_parser(
        "demo", help="replay a bad Monday against a built-in Asterisk"
    )
    demo.add_argument("--json", action="store_true", help="print the tickets as JSON")
    demo.add_argument("--store", default=None, help="keep the demo's SQLite file here")
    demo.set_defaults(func=cmd_demo, needs_config=False, needs_store=False)

    for name in COMMAND_MODULES:
        module = _optional_module(name)
        if module is not None:
            module.register(sub)
            if hasattr(module, "register_directory"):
                module.register_directory(directory_sub)
    return parser


def _optional_module(name):
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if exc.name and name.startswith(exc.name):
            return None
        raise


def positive_int(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} is not 1 or more")
    return value


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        conf = None
        if getattr(args, "needs_config", True):
            conf = config.load_config(args.config or config.DEFAULT_PATH)
        _configure_logging(args, conf)
        if conf is not None and getattr(args, "needs_store", True):
            store.open_store(conf.store_path)
        return args.func(args, conf)
    except ConfigError as exc:
        print(f"msp-intake: config: {exc}", file=sys.stderr)
        return 2
    except AriAuthError as exc:
        print(f"msp-intake: [ari] username/password: {exc}", file=sys.stderr)
        return 2
    except MspIntakeError as exc:
        print(f"msp-intake: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    finally:
        store.close_store()


def _configure_logging(args, conf):
    level = "DEBUG" if args.verbose else (conf.log_level if conf else "WARNING")
    if args.command != "run" and not args.verbose:
        level = "WARNING"
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    for noisy in ("aiohttp.access", "peewee", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def cmd_run(args, conf):
    from .service import serve

    asyncio.run(serve(conf))
    return 0


def cmd_tickets(args, conf):
    tickets = board.query_tickets(status=args.status, limit=args.limit)
    if args.json:
        print(board.tickets_json(tickets))
    elif tickets:
        print(board.board_table(tickets, conf.timezone))
    else:
        print("no tickets")
    return 0


def cmd_ticket_show(args, conf):
    ticket = find_ticket(args.ticket)
    data = board.ticket_to_dict(ticket)
    events = store.timeline(ticket.id)
    if args.show_json:
        data["timeline"] = [_event_dict(event) for event in events]
        import json

        print(json.dumps(data, indent=2))
        return 0
    for key, value in data.items():
        if value not in (None, "", []):
            print(f"{key:>18}: {value}")
    print("\ntimeline (UTC):")
    for event in events:
        line = f"  {board.iso_utc(event.at)}  {event.kind}"
        print(f"{line}  {event.detail}" if event.detail else line)
    return 0


def _event_dict(event):
    return {"at": board.iso_utc(event.at), "kind": event.kind, "detail": event.detail}


def find_ticket(text):
    number = text.strip().upper().removeprefix("MSP-")
    # ASCII digits only ("²".isdigit() is true), within SQLite's integer range.
    if not (number.isascii() and number.isdigit()) or len(number) > 18:
        raise UsageError(f"ticket {text!r}: not a ticket number like 42 or MSP-42")
    ticket = Ticket.get_or_none(Ticket.id == int(number))
    if ticket is None:
        raise UsageError(f"ticket {text!r}: no such ticket")
    return ticket


def cmd_directory_import(args, conf):
    from .directory import import_csv

    report = import_csv(args.file, conf.default_region)
    for line, reason in report.skipped:
        print(f"{args.file}:{line}: skipped: {reason}", file=sys.stderr)
    for line, reason in report.warnings:
        print(f"{args.file}:{line}: warning: {reason}", file=sys.stderr)
    print(
        f"imported {report.companies} new company(ies), {report.contacts} new "
        f"contact(s); {len(report.skipped)} row(s) skipped, "
        f"{len(report.warnings)} warning(s)"
    )
    return 0


def cmd_demo(args, conf):
    from .demo import run_demo

    return run_demo(json_output=args.json, store_path=args.store)


if __name__ == "__main__":
    sys.exit(main())
