"""Benchmark: due times and the SLA report for 100,000 tickets (prints figures).

Run it by hand: ``.venv/bin/python tests/bench_sla.py [--tickets N]``. It builds
a real SQLite store in a temporary directory with a quarter of contacts
(New York business hours, US holidays, 24x7 P1s, 50 clients, 90 days, 80%
answered), then times three things: computing every ticket's due times and
writing them (``recompute_all``), building the report's figures, and rendering
it as a table and as HTML. Peak memory is measured with tracemalloc in a second,
separate pass, so the timings are not slowed by it.
"""

import argparse
import datetime
import random
import resource
import sys
import tempfile
import textwrap
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ari_app import store  # noqa: E402
from ari_app.config import load_config  # noqa: E402
from ari_app.models import Company, Ticket, database  # noqa: E402
from ari_app.sla import policies, reports, services  # noqa: E402

CONFIG = """
[ari]
url = http://127.0.0.1:8088
username = bench
password = bench

[sla]
timezone = America/New_York

[sla.calendar business]
timezone = America/New_York
hours = mon-fri 08:00-18:00
holidays = US

[sla.contract Client 7]
p2_first_response = 30m
p2_calendar = 24x7
"""


def build_store(directory, count, seed=5):
    """Insert ``count`` tickets with no due times yet, in bulk."""
    rng = random.Random(seed)
    companies = [Company.create(name=f"Client {n}").id for n in range(50)]
    start = datetime.datetime(2026, 8, 1, 12, 0)
    rows = []
    for index in range(count):
        contact = start + datetime.timedelta(seconds=rng.randrange(90 * 86400))
        answered = rng.random() < 0.8
        delay = datetime.timedelta(seconds=rng.expovariate(1 / 3600))
        rows.append(
            {
                "channel_id": f"bench-{index}",
                "contact_at": contact,
                "created_at": contact,
                "updated_at": contact,
                "status": "abandoned" if rng.random() < 0.04 else "open",
                "source": "phone" if rng.random() < 0.85 else "email",
                "company": rng.choice(companies) if rng.random() < 0.95 else None,
                "priority": rng.choice(("P1", "P2", "P2", "P3", "P3", "P3", "P4")),
                "first_response_at": contact + delay if answered else None,
                "first_response_by": "bench" if answered else None,
            }
        )
    with database.atomic():
        for offset in range(0, len(rows), 500):
            Ticket.insert_many(rows[offset : offset + 500]).execute()


def timed(label, function, *args):
    started = time.perf_counter()
    result = function(*args)
    elapsed = time.perf_counter() - started
    print(f"{label:<36} {elapsed:8.2f} s")
    return result, elapsed


def peak(label, function, *args):
    tracemalloc.start()
    function(*args)
    _, top = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{label:<36} {top / 2**20:8.1f} MiB")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as directory:
        conf_path = Path(directory) / "bench.conf"
        conf_path.write_text(textwrap.dedent(CONFIG))
        settings = policies.load_settings(load_config(str(conf_path)))
        store.open_store(str(Path(directory) / "bench.sqlite3"))
        build_store(directory, args.tickets)
        period = reports.Period(
            datetime.date(2026, 8, 1), datetime.date(2026, 10, 31), settings.timezone
        )
        now = datetime.datetime(2026, 11, 5)
        print(f"{args.tickets:,} tickets, Python {sys.version.split()[0]}")
        print("-- time")
        moved, _ = timed(
            "due times (compute + write)", services.recompute_all, settings
        )
        report, _ = timed("report figures", reports.build, settings, period, None, now)
        timed("render table", reports.render, report, "table")
        timed("render html", reports.render, report, "html")
        print("-- peak memory (tracemalloc, Python heap)")
        Ticket.update(first_response_due=None).execute()  # the same work again
        peak("due times (compute + write)", services.recompute_all, settings)
        peak("report figures + html", _report_and_html, settings, period, now)
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{'peak RSS of the whole run':<36} {rss:8.1f} MiB")
        print(
            f"tickets given due times: {moved:,}; met share "
            f"{reports.share_text(report['overall']['met_share'])}"
        )
        store.close_store()


def _report_and_html(settings, period, now):
    reports.render(reports.build(settings, period, None, now), "html")


if __name__ == "__main__":
    main()
