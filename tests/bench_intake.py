"""Benchmark: 50 simultaneous calls against the Asterisk test double.

Prints figures; asserts nothing. Run with ``make bench``.

- StasisStart to ticket committed (p50, p99): the app's own latency, measured
  in-process from the moment the event is dispatched to the commit returning.
- Contact-time error: |ticket.contact_at - channel creationtime| over all calls.
- CPU seconds per call: the service runs as its own process (``msp-intake run``)
  and its CPU time is read from /proc, so the test double's work is not counted.
"""

import asyncio
import os
import re
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from ari_app import callflow  # noqa: E402
from tests.intake_helpers import (  # noqa: E402
    answering,
    new_fake,
    running_service,
    settle,
    start_service_process,
    tickets_of,
    write_service_config,
)

CALLS = 50
COMMITTED = re.compile(r"committed ([0-9.]+) ms after StasisStart")


def percentile(values, share):
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def callers():
    return [
        answering(["1", "2", f"{n % 9 + 1}#"], number=f"+1555301{n:04d}")
        for n in range(CALLS)
    ]


async def in_process(folder):
    fake = new_fake(sound_seconds=0.2)
    await fake.start()
    store_path = os.path.join(folder, "bench.sqlite3")
    try:
        async with running_service(fake, store_path) as service:
            calls = await asyncio.gather(*(fake.place_call(c) for c in callers()))
            await asyncio.gather(*(c.wait_ended(timeout=60) for c in calls))
            await settle(service, timeout=30)
            latencies = list(service.stasis.commit_latencies)
    finally:
        await fake.stop()
    tickets = {t.channel_id: t for t in tickets_of(store_path)}
    errors = [
        abs(
            (
                tickets[c.channel_id].contact_at
                - callflow.parse_creationtime(c.creationtime)
            ).total_seconds()
        )
        for c in calls
    ]
    return latencies, errors, len(tickets)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as handle:
        fields = handle.read().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


async def place(fake, spacing):
    """All calls at once (spacing 0), or one every ``spacing`` seconds."""
    if not spacing:
        return await asyncio.gather(*(fake.place_call(c) for c in callers()))
    calls = []
    for caller in callers():
        calls.append(await fake.place_call(caller))
        await asyncio.sleep(spacing)
    return calls


async def as_a_process(folder, spacing=0.0):
    fake = new_fake(sound_seconds=0.2)
    await fake.start()
    config_path = write_service_config(
        folder,
        fake,
        os.path.join(folder, f"process-{spacing}.sqlite3"),
        name=f"bench-{spacing}.conf",
    )
    process = await start_service_process(
        config_path, stdout=None, stderr=asyncio.subprocess.PIPE
    )
    try:
        while not fake.hub.sockets:
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)
        before = cpu_seconds(process.pid)
        calls = await place(fake, spacing)
        await asyncio.gather(*(c.wait_ended(timeout=60) for c in calls))
        await asyncio.sleep(0.5)
        used = cpu_seconds(process.pid) - before
    finally:
        process.terminate()
        log = (await process.communicate())[1].decode()
        await fake.stop()
    latencies = [float(m) / 1000 for m in COMMITTED.findall(log)]
    return used / CALLS, latencies


async def main():
    with tempfile.TemporaryDirectory() as folder:
        started = time.perf_counter()
        latencies, errors, count = await in_process(folder)
        per_call, burst = await as_a_process(folder)
        _, spread = await as_a_process(folder, spacing=0.02)
        elapsed = time.perf_counter() - started
    print(f"intake benchmark: {CALLS} simultaneous calls, {count} tickets")
    for label, values in (
        ("all 50 in the same instant", burst),
        ("50 arriving 20 ms apart, all in the IVR together", spread),
        ("all at once, test double in the same process", latencies),
    ):
        ms = [value * 1000 for value in values]
        print(
            f"  StasisStart -> ticket committed, {label}: "
            f"p50 {statistics.median(ms):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms"
        )
    print("  (target p99 < 10 ms)")
    print(f"  contact-time error: max {max(errors) * 1000:.3f} ms (target 0 ms)")
    print(f"  CPU per call (service process): {per_call * 1000:.1f} ms")
    print(f"  wall time of the benchmark: {elapsed:.1f} s")


if __name__ == "__main__":
    asyncio.run(main())
