"""The at-risk and breach loop against a real store file and its worker thread.

The loop's clock is replaced by a settable one (``FakeClock``) where the test
must decide what time it is; nothing else is faked.
"""

import asyncio
import datetime
import logging

import pytest

from ari_app import events, store
from ari_app.models import Company, Ticket, TicketEvent, utcnow
from ari_app.sla import monitor
from ari_app.sla.component import make_component
from ari_app.sla.models import SlaEvent

from .conftest import make_ticket, utc


class FakeClock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


@pytest.fixture
def received():
    got = []

    def at_risk(**payload):
        got.append({"kind": "sla.at_risk", **payload})

    def breached(**payload):
        got.append({"kind": "sla.breached", **payload})

    events.subscribe("sla.at_risk", at_risk)
    events.subscribe("sla.breached", breached)
    yield got
    events.unsubscribe("sla.at_risk", at_risk)
    events.unsubscribe("sla.breached", breached)


@pytest.fixture
def service(tmp_path, config):
    """Start and stop the SLA component the way ``msp-intake run`` does."""
    path = str(tmp_path / "intake.sqlite3")
    running = []

    async def start(clock=utcnow):
        worker = store.StoreWorker(path)
        await worker.start()
        component = make_component(config, worker, clock=clock)
        await component.start()
        running.append((worker, component))
        return worker, component

    async def stop():
        worker, component = running.pop()
        await component.stop()
        await worker.stop()

    yield start, stop
    assert not running, "a test left the service running"


async def test_at_risk_and_breach_fire_once_each_across_a_restart(service, received):
    start, stop = service
    # P2 on Tue 2026-11-17 10:15 EST (15:15Z): due 16:15Z, at risk at 75% of the
    # hour, 16:00Z.
    clock = FakeClock(utc("2026-11-17T15:16"))
    worker, component = await start(clock)
    ticket = await worker.run(make_ticket, utc("2026-11-17T15:15"), "P2")

    clock.now = utc("2026-11-17T15:59:59")
    assert await component.check() == []
    clock.now = utc("2026-11-17T16:00")
    await component.check()
    clock.now = utc("2026-11-17T16:05")
    await component.check()
    assert [(e["kind"], e["at"]) for e in received] == [
        ("sla.at_risk", "2026-11-17T16:00:00.000Z")
    ]

    clock.now = utc("2026-11-17T16:15:01")
    await component.check()
    await component.check()
    assert [e["kind"] for e in received] == ["sla.at_risk", "sla.breached"]
    assert received[1]["reference"] == ticket.reference
    assert received[1]["due"] == "2026-11-17T16:15:00.000Z"
    await stop()

    # The service restarts later: nothing fires a second time.
    clock.now = utc("2026-11-17T18:00")
    worker, component = await start(clock)
    await component.check()
    assert len(received) == 2
    kinds = await worker.run(
        lambda: [e.kind for e in TicketEvent.select().where(TicketEvent.ticket == 1)]
    )
    assert kinds.count("sla_at_risk") == kinds.count("sla_breached") == 1
    await stop()


async def test_a_mark_written_before_a_crash_goes_out_after_restart(service, received):
    start, stop = service
    clock = FakeClock(utc("2026-11-17T15:16"))
    worker, _ = await start(clock)
    await worker.run(make_ticket, utc("2026-11-17T15:15"), "P2")
    # The mark is committed but the process dies before publishing it.
    await worker.run(monitor.scan, utc("2026-11-17T16:20"))
    await stop()
    assert received == []

    worker, component = await start(clock)  # start() runs the first check
    assert [e["kind"] for e in received] == ["sla.breached"]
    await component.check()
    assert len(received) == 1
    await stop()


async def test_a_ticket_first_seen_past_due_is_breached_not_at_risk(service, received):
    start, stop = service
    clock = FakeClock(utc("2026-11-17T15:16"))
    worker, component = await start(clock)
    await worker.run(make_ticket, utc("2026-11-17T15:15"), "P2")
    clock.now = utc("2026-11-17T17:00")
    await component.check()
    assert [e["kind"] for e in received] == ["sla.breached"]
    await stop()


async def test_answered_tickets_do_not_breach(service, received):
    from ari_app.sla import services

    start, stop = service
    clock = FakeClock(utc("2026-11-17T15:16"))
    worker, component = await start(clock)
    ticket = await worker.run(make_ticket, utc("2026-11-17T15:15"), "P2")
    await worker.run(
        services.record_first_response, ticket.id, utc("2026-11-17T15:30"), "dana"
    )
    clock.now = utc("2026-11-17T17:00")
    await component.check()
    assert received == []
    await stop()


async def test_a_failing_subscriber_does_not_stop_the_others(service, received):
    def broken(**payload):
        raise RuntimeError("webhook down")

    events.subscribe("sla.breached", broken)
    try:
        start, stop = service
        clock = FakeClock(utc("2026-11-17T15:16"))
        worker, component = await start(clock)
        await worker.run(make_ticket, utc("2026-11-17T15:15"), "P2")
        await worker.run(make_ticket, utc("2026-11-17T15:16"), "P2")
        clock.now = utc("2026-11-17T18:00")
        await component.check()
        assert [e["ticket_id"] for e in received] == [1, 2]
        unpublished = await worker.run(monitor.pending)
        assert unpublished == []
        await stop()
    finally:
        events.unsubscribe("sla.breached", broken)


async def test_a_lower_priority_undoes_a_breach_so_it_can_fire_again(service, received):
    # Real time here: the undo compares the new due time with the present.
    start, stop = service
    worker, component = await start()
    contact = utcnow() - datetime.timedelta(minutes=20)
    ticket = await worker.run(make_ticket, contact, "P1")  # 15m, 24x7: breached
    await component.check()
    assert [e["kind"] for e in received] == ["sla.breached"]

    await worker.run(store.update_ticket, ticket.id, priority="P4")  # a day later
    marks = await worker.run(lambda: SlaEvent.select().count())
    assert marks == 0
    timeline = await worker.run(store.timeline, ticket.id)
    assert "sla_mark_undone" in [line.kind for line in timeline]
    due = await worker.run(lambda: Ticket.get_by_id(ticket.id).first_response_due)
    assert due > utcnow()
    await stop()


async def test_the_loop_keeps_checking_on_its_interval(tmp_path, write_sla_config):
    from .conftest import SLA

    config = write_sla_config(SLA.replace("[sla]\n", "[sla]\ncheck_interval = 1\n"))
    got = []
    events.subscribe("sla.breached", lambda **p: got.append(p))
    worker = store.StoreWorker(str(tmp_path / "intake.sqlite3"))
    await worker.start()
    component = make_component(config, worker)
    await component.start()
    try:
        await worker.run(make_ticket, utcnow() - datetime.timedelta(hours=1), "P1")
        for _ in range(30):
            if got:
                break
            await asyncio.sleep(0.1)
        assert len(got) == 1
    finally:
        await component.stop()
        await worker.stop()
        events._subscribers["sla.breached"].clear()


async def test_a_contract_for_no_known_client_is_one_warning_at_start(
    service, tmp_path, caplog
):
    """The directory may be imported after the config is written: warn, start."""
    start, stop = service
    store.open_store(str(tmp_path / "intake.sqlite3"))
    Company.create(name="ACME DENTAL")  # matched ignoring case, like a call's client
    store.close_store()
    with caplog.at_level(logging.WARNING, logger="ari_app.sla"):
        await start()
    await stop()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == [
        "[sla.contract London Law]: no such client in the directory; "
        "its terms apply to no call until one is imported"
    ]
