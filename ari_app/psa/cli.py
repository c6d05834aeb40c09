"""``msp-intake sync status|retry|test`` and ``msp-intake directory sync``.

``register(subparsers)`` adds ``sync``; ``register_directory(subparsers)``
adds ``sync`` under the core's ``directory`` command. Each handler is
``handler(args, config) -> int`` with the store already open; errors are one
line on stderr and exit code 2.
"""

import datetime
import sys

from tabulate import tabulate

from .. import models
from ..board import iso_utc
from ..exceptions import ConfigError, MspIntakeError
from . import directory_sync, install, outbox
from .connectors import make_connector
from .exceptions import PsaError
from .models import TABLES, get_state, set_state
from .settings import load_settings

OFF = "PSA sync is off: no [psa] section, or type = none"
# The worker's heartbeat is older than this: it is not running. A request in
# flight (up to the PSA timeout) or a slow store write can delay a beat.
STALE_AFTER = 60.0


def register(subparsers):
    sync = subparsers.add_parser("sync", help="the PSA sync: status, retry, test")
    commands = sync.add_subparsers(dest="sync_command", metavar="COMMAND")
    commands.required = True
    status = commands.add_parser(
        "status", help="queued, retrying and parked tickets, and the last error"
    )
    status.set_defaults(func=sync_status)
    retry = commands.add_parser("retry", help="send parked tickets again, now")
    retry.add_argument("--ticket", type=int, metavar="ID", help="only this ticket")
    retry.set_defaults(func=sync_retry)
    test = commands.add_parser(
        "test", help="check the credentials and picklist values against the PSA"
    )
    test.set_defaults(func=sync_test)


def register_directory(directory_subparsers):
    command = directory_subparsers.add_parser(
        "sync", help="pull companies and contacts from the PSA"
    )
    command.add_argument(
        "--full", action="store_true", help="a full pass (finds deleted contacts)"
    )
    command.set_defaults(func=directory_sync_command)


def _prepare():
    install()
    models.database.create_tables(TABLES, safe=True)


class _CommandError(MspIntakeError):
    """A sync command that cannot run; main() prints it in one line, exit 2."""


def _configured(config, **kwargs):
    """The ``[psa]`` settings, or a one-line error when the sync is off or wrong."""
    try:
        settings = load_settings(config, **kwargs)
    except ConfigError as exc:
        raise _CommandError(str(exc)) from None
    if settings is None:
        raise _CommandError(OFF)
    return settings


def _fail(message):
    print(f"msp-intake: {message}", file=sys.stderr)
    return 2


def sync_status(args, config):
    try:
        settings = load_settings(config, with_secrets=False)
    except ConfigError as exc:
        return _fail(str(exc))
    if settings is None:
        print(OFF)
        return 0
    _prepare()
    counts = outbox.counts()
    print(f"PSA: {settings.type} at {settings.url}")
    queued = [a + b for a, b in zip(counts["queued"], counts["sending"], strict=True)]
    print(
        f"tickets waiting: queued {queued[0]}, retrying {counts['retrying'][0]}, "
        f"parked {counts['parked'][0]} "
        f"({queued[1] + counts['retrying'][1] + counts['parked'][1]} change(s))"
    )
    print(f"last delivery: {_when(get_state('last_success_at'))}")
    print(_worker_line(settings))
    error = get_state("last_error")
    if error:
        print(f"last error ({_when(get_state('last_error_at'))}): {error}")
    parked = outbox.parked_items()
    if parked:
        rows = [
            [
                item.ticket.reference,
                item.attempts,
                iso_utc(item.queued_at),
                item.last_error,
            ]
            for item in parked
        ]
        print()
        print(
            tabulate(rows, headers=["parked", "attempts", "queued (UTC)", "PSA said"])
        )
        print("\nfix the cause in the PSA or the config, then: msp-intake sync retry")
    return 0


def sync_retry(args, config):
    settings = _configured(config, with_secrets=False)
    _prepare()
    with models.database.atomic():
        count = outbox.unpark(args.ticket)
        set_state("retry_requested_at", models.utcnow().isoformat())
    which = f" of ticket {args.ticket}" if args.ticket else ""
    if _worker_stale(settings):
        print(
            f"requeued {count} parked change(s){which}; the service does not seem "
            "to be running (no sync heartbeat), so nothing is sent until it starts"
        )
    else:
        print(f"requeued {count} parked change(s){which}; the service sends them now")
    return 0


def _worker_age(settings):
    """Seconds since the sync worker last ran, or None if it never has."""
    seen = get_state("worker_seen_at")
    if not seen:
        return None
    age = models.utcnow() - datetime.datetime.fromisoformat(seen)
    return age.total_seconds()


def _worker_stale(settings):
    age = _worker_age(settings)
    return age is None or age > max(STALE_AFTER, 2 * settings.timeout + 30)


def _worker_line(settings):
    age = _worker_age(settings)
    seen = _when(get_state("worker_seen_at"))
    if age is None:
        return "sync worker: never ran (is the service running?)"
    if _worker_stale(settings):
        return (
            f"sync worker: NOT RUNNING, last seen {seen} ({age:.0f} s ago); "
            "see the service log"
        )
    return f"sync worker: running, last seen {seen}"


def sync_test(args, config):
    settings = _configured(config)
    connector = make_connector(settings)
    try:
        problems = connector.check()
    except PsaError as exc:
        return _fail(f"{settings.type}: {exc}")
    finally:
        connector.close()
    for problem in problems:
        print(problem)
    if problems:
        return 1
    print(f"{settings.type}: credentials accepted, every configured value exists")
    return 0


def directory_sync_command(args, config):
    settings = _configured(config)
    if settings.type == "webhook":
        return _fail("a webhook has no directory to pull; use directory import")
    _prepare()
    connector = make_connector(settings)
    try:
        report = directory_sync.run(connector, config.default_region, full=args.full)
    except PsaError as exc:
        return _fail(f"{settings.type}: {exc}")
    finally:
        connector.close()
    kind = "full" if report.full else "incremental"
    print(
        f"{kind} sync from {settings.type}: {report.companies} companies, "
        f"{report.contacts} contact numbers, {report.deactivated} deactivated"
    )
    for external_id, reason in report.skipped:
        print(f"  skipped contact {external_id}: {reason}")
    return 0


def _when(value):
    return value.replace("T", " ")[:19] + "Z" if value else "never"
