"""Benchmark of the PSA sync (not a pytest test): ``python tests/bench_psa.py``.

1. Contact to PSA ticket created, against a healthy ConnectWise double: for each
   of N calls, from the PBX contact time (the ticket's ``contact_at``) to the
   moment the double committed the ticket. Tickets are opened through the
   store's own thread with the sync component running, as in the service.
2. Drain after an outage: 1,000 tickets queued while the PSA is down, then
   the PSA comes back; the time until every one is in the PSA, and how many
   arrived twice.
"""

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ari_app import config, store  # noqa: E402
from ari_app.doubles.psa_connectwise import ConnectWiseDouble  # noqa: E402
from ari_app.models import utcnow  # noqa: E402
from ari_app.psa import component, outbox  # noqa: E402
from ari_app.psa.models import PENDING, OutboxItem  # noqa: E402

CONFIG = """
[ari]
url = http://127.0.0.1:8088
username = bench
password = bench

[store]
path = {store}

[psa]
type = connectwise
url = {url}
secrets = {secrets}
company_id = msp
board = Help Desk
status = New
priority_p1 = 1
priority_p2 = 2
priority_p3 = 3
priority_p4 = 4
unmatched_company = Catchall
timeout = 5
backoff_initial = 0.5
backoff_max = 2
response_poll = 0
directory_interval = 0
"""


def _config(directory, url):
    secrets = os.path.join(directory, "secrets.conf")
    with open(secrets, "w") as handle:
        handle.write("[connectwise]\npublic_key = pub\nprivate_key = priv\n")
        handle.write("client_id = client-1\n")
    os.chmod(secrets, 0o600)
    path = os.path.join(directory, "msp-intake.conf")
    with open(path, "w") as handle:
        handle.write(
            CONFIG.format(
                store=os.path.join(directory, "bench.sqlite3"), url=url, secrets=secrets
            )
        )
    return config.load_config(path)


def _pending():
    return OutboxItem.select().where(OutboxItem.state.in_(PENDING)).count()


async def _run(calls, backlog):
    with tempfile.TemporaryDirectory() as directory, ConnectWiseDouble() as psa:
        conf = _config(directory, psa.url)
        store_worker = store.StoreWorker(conf.store_path)
        await store_worker.start()
        sync = component.make_component(conf, store_worker)
        await sync.start()
        try:
            latencies = await _latency(store_worker, psa, calls)
            drain, duplicates = await _drain(store_worker, psa, backlog, calls)
        finally:
            await sync.stop()
            await store_worker.stop()
            outbox.uninstall()
    return latencies, drain, duplicates


async def _latency(store_worker, psa, calls):
    latencies = []
    for number in range(calls):
        contact_at = utcnow()
        await store_worker.run(
            store.open_ticket, f"bench-{number}", contact_at, caller_number="+15550100"
        )
        reference = f"MSP-{number + 1}"
        while True:
            created = [
                t for t in psa.tickets.values() if t["externalXRef"] == reference
            ]
            if created:
                break
            await asyncio.sleep(0.001)
        latencies.append((created[0]["entered"] - contact_at).total_seconds())
        await asyncio.sleep(0.02)  # calls arrive one after another, not all at once
    return latencies


async def _drain(store_worker, psa, backlog, offset):
    psa.down = True
    for number in range(backlog):
        await store_worker.run(
            store.open_ticket, f"outage-{number}", utcnow(), caller_number="+15550101"
        )
    await asyncio.sleep(1.0)  # the sync is in backoff by now
    started = time.monotonic()
    psa.down = False
    while await store_worker.run(_pending):
        await asyncio.sleep(0.01)
    elapsed = time.monotonic() - started
    arrived = {ref for ref, _ in psa.creates}
    expected = {f"MSP-{offset + n + 1}" for n in range(backlog)}
    missing = expected - arrived
    if missing:
        raise SystemExit(f"{len(missing)} queued tickets never reached the PSA")
    return elapsed, psa.duplicates()


def _percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--backlog", type=int, default=1000)
    args = parser.parse_args(argv)
    latencies, drain, duplicates = asyncio.run(_run(args.calls, args.backlog))
    ms = [value * 1000 for value in latencies]
    print(f"contact to PSA ticket created, healthy PSA double, {args.calls} calls:")
    print(
        f"  p50 {statistics.median(ms):.1f} ms   p99 {_percentile(ms, 0.99):.1f} ms"
        f"   max {max(ms):.1f} ms   (target p99 < 1500 ms)"
    )
    print(f"drain of {args.backlog} tickets queued during an outage:")
    print(
        f"  {drain:.2f} s after the PSA came back "
        f"({args.backlog / drain:.0f} tickets/s), duplicates {duplicates} (target 0)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
