"""Delivery: outage, lost answers, restarts, throttling and parking.

Everything is real: SQLite files, the PSA doubles' HTTP servers on 127.0.0.1,
the sync worker's thread (or its step() in the test thread when a test needs
to control exactly when requests go out).
"""

import asyncio
import os
import signal
import subprocess
import sys
import time

from ari_app import store
from ari_app.models import Company
from ari_app.psa import component, outbox
from ari_app.psa.models import DONE, PARKED, OutboxItem, PsaLink

from .helpers import drain, load, make_worker, new_ticket, pending, triage, write_config

TICKETS = "/v4_6_release/apis/3.0/service/tickets"


def _link(ticket_id):
    return PsaLink.get(PsaLink.ticket == ticket_id)


async def test_outage_for_the_first_50_of_100_tickets(tmp_path, cw):
    """Through the service's own path: the component, the store thread, a thread."""
    conf = load(tmp_path, "connectwise", cw.url)
    store_worker = store.StoreWorker(conf.store_path)
    await store_worker.start()
    psa = component.make_component(conf, store_worker)
    await psa.start()
    try:
        cw.down = True
        ids = []
        for number in range(100):
            if number == 50:
                await asyncio.sleep(0.3)  # a few failed probes while down
                cw.down = False
            ticket = await store_worker.run(new_ticket, number)
            if number >= 50:  # a real IVR takes seconds: the create goes first
                await _linked(store_worker, ticket.id)
            await store_worker.run(triage, ticket.id, "P1" if number % 2 else "P4")
            ids.append(ticket.id)
        deadline = time.monotonic() + 30
        while await store_worker.run(pending) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        assert await store_worker.run(pending) == 0
    finally:
        await psa.stop()
        links = await store_worker.run(lambda: {i: _link(i).psa_ticket_id for i in ids})
        await store_worker.stop()
        outbox.uninstall()

    assert cw.duplicates() == 0
    references = sorted(ours(ref) for ref, _ in cw.creates)
    assert references == sorted(f"MSP-{i}" for i in ids)
    failed = [r for r in cw.requests if r[1].startswith(TICKETS)]
    assert failed  # the outage was real: requests were dropped, then retried
    for number, ticket_id in enumerate(ids):
        psa_ticket = cw.tickets[int(links[ticket_id])]
        assert psa_ticket["priority_id"] == (1 if number % 2 else 4)
        assert psa_ticket["status_id"] == 1  # never created as responded
    # In order per ticket: the create, then its patch, then its note.
    order = {}
    for method, path, _ in cw.requests:
        if path.startswith(TICKETS + "/") and method in ("PATCH", "POST"):
            psa_id = int(path[len(TICKETS) + 1 :].split("/")[0])
            order.setdefault(psa_id, []).append("note" if "notes" in path else method)
    # Tickets queued during the outage went out once with their latest state; the
    # others were created at once, then patched, then noted.
    for psa_id in links.values():
        assert order.get(int(psa_id), []) in ([], ["PATCH", "note"])
    assert sum(1 for o in order.values() if o == ["PATCH", "note"]) >= 40


async def _linked(store_worker, ticket_id, timeout=10):
    def psa_id():
        link = PsaLink.get_or_none(PsaLink.ticket == ticket_id)
        return link and link.psa_ticket_id

    deadline = time.monotonic() + timeout
    while not await store_worker.run(psa_id) and time.monotonic() < deadline:
        await asyncio.sleep(0.01)


def test_create_whose_answer_is_lost_makes_no_duplicate(tmp_path, psa_store, cw):
    worker = make_worker(load(tmp_path, "connectwise", cw.url))
    ticket = new_ticket(1)
    cw.commit_then_drop(path=TICKETS)

    drain(worker)

    assert cw.duplicates() == 0
    assert len(cw.tickets) == 1
    assert _link(ticket.id).psa_ticket_id == str(next(iter(cw.tickets)))
    lookups = [p for m, p, _ in cw.requests if m == "GET" and "externalXRef" in p]
    assert len(lookups) == 1


def test_create_that_hangs_past_the_timeout_makes_no_duplicate(tmp_path, psa_store, cw):
    """A slow PSA commits the create 1 s after it came, long after we gave up."""
    conf = load(tmp_path, "connectwise", cw.url, "create_holdoff = 1.5\n")
    worker = make_worker(conf)
    ticket = new_ticket(1)
    cw.hang(1.0, path=TICKETS, method="POST")  # the client gives up at 0.5 s
    new_ticket(2)

    started = time.monotonic()
    drain(worker)

    assert time.monotonic() - started >= 1.5  # the hold-off was kept
    time.sleep(max(0.0, started + 1.2 - time.monotonic()))  # the slow one is in
    assert len(cw.tickets) == 2 and cw.duplicates() == 0
    created = {ours(reference): str(psa_id) for reference, psa_id in cw.creates}
    assert _link(ticket.id).psa_ticket_id == created["MSP-1"]  # found, not again
    assert created["MSP-2"] == "1001"  # created first: the hold-off held only MSP-1
    lookups = [p for m, p, _ in cw.requests if m == "GET" and "MSP-1-" in p]
    assert len(lookups) >= 2


def test_killed_between_queueing_and_sending(tmp_path, cw):
    db = str(tmp_path / "intake.sqlite3")
    store.open_store(db)
    outbox.install()
    ticket = new_ticket(1)  # committed with its outbox row; nothing sent
    store.close_store()  # the service dies here
    assert cw.requests == []

    store.open_store(db)  # and starts again
    try:
        drain(make_worker(load(tmp_path, "connectwise", cw.url)))
        assert _link(ticket.id).psa_ticket_id is not None
    finally:
        outbox.uninstall()
        store.close_store()
    assert len(cw.tickets) == 1 and cw.duplicates() == 0


WORKER_SCRIPT = """
import sys
from ari_app import config, store
from ari_app.psa.connectors import make_connector
from ari_app.psa.settings import load_settings
from ari_app.psa.worker import SyncWorker
conf = config.load_config(sys.argv[1])
store.open_store(conf.store_path)
settings = load_settings(conf)
SyncWorker(settings, make_connector(settings)).step()
"""


def test_killed_mid_request_after_the_psa_committed(tmp_path, cw):
    """A real process is SIGKILLed while its create hangs on the PSA side."""
    path = write_config(tmp_path, "connectwise", cw.url, extra="timeout = 30\n")
    conf_store = str(tmp_path / "intake.sqlite3")
    store.open_store(conf_store)
    outbox.install()
    ticket = new_ticket(1)
    store.close_store()
    cw.commit_then_hang(20, path=TICKETS)
    env = dict(os.environ, PYTHONPATH=os.getcwd())
    child = subprocess.Popen([sys.executable, "-c", WORKER_SCRIPT, path], env=env)
    deadline = time.monotonic() + 10
    while not cw.tickets and time.monotonic() < deadline:
        time.sleep(0.02)
    assert cw.tickets, "the child never reached the PSA"
    child.send_signal(signal.SIGKILL)
    child.wait()

    store.open_store(conf_store)
    try:
        drain(make_worker(load(tmp_path, "connectwise", cw.url)))
        assert _link(ticket.id).psa_ticket_id == str(next(iter(cw.tickets)))
    finally:
        outbox.uninstall()
        store.close_store()
    assert len(cw.tickets) == 1 and cw.duplicates() == 0


def test_retry_after_is_honoured(tmp_path, psa_store, cw):
    worker = make_worker(load(tmp_path, "connectwise", cw.url))
    new_ticket(1)
    cw.fail(429, retry_after="1", path=TICKETS, method="POST")

    drain(worker)

    posts = [t for m, p, t in cw.requests if m == "POST" and p == TICKETS]
    assert len(posts) == 2
    assert posts[1] - posts[0] >= 1.0  # backoff alone would be under 0.1 s
    assert len(cw.tickets) == 1


def test_a_parked_ticket_does_not_block_the_others(tmp_path, psa_store, cw):
    conf = load(tmp_path, "connectwise", cw.url)
    worker = make_worker(conf)
    gone = Company.create(name="Gone Ltd", source="connectwise", external_id="999")
    bad = new_ticket(1, company=gone)  # the PSA does not know company 999
    good = new_ticket(2)
    triage(bad.id)
    triage(good.id)

    drain(worker)

    assert [
        i.state for i in OutboxItem.select().where(OutboxItem.ticket == bad.id)
    ] == [PARKED, "queued"]
    parked = OutboxItem.get(OutboxItem.ticket == bad.id, OutboxItem.state == PARKED)
    assert "company: Company not found." in parked.last_error
    assert _link(good.id).psa_ticket_id is not None
    assert cw.tickets[int(_link(good.id).psa_ticket_id)]["priority_id"] == 2

    # The sysadmin adds the company in the PSA, then: msp-intake sync retry.
    cw.add_company(999, "Gone Ltd")
    assert outbox.unpark() == 1
    drain(worker)
    assert _link(bad.id).psa_ticket_id is not None
    assert not OutboxItem.select().where(OutboxItem.state != DONE).count()
    assert len(cw.tickets) == 2


def test_refused_credentials_retry_rather_than_park(tmp_path, psa_store, cw):
    worker = make_worker(load(tmp_path, "connectwise", cw.url))
    new_ticket(1)
    cw.fail(401, times=2)

    drain(worker)

    assert not OutboxItem.select().where(OutboxItem.state == PARKED).count()
    assert len(cw.tickets) == 1


def test_server_errors_back_off_exponentially(tmp_path, psa_store, cw):
    worker = make_worker(load(tmp_path, "connectwise", cw.url, "backoff_max = 5\n"))
    new_ticket(1)
    cw.fail(500, times=4)

    drain(worker)

    # POST fails; then, since it may have been committed, each try looks up first.
    assert [m for m, _, _ in cw.requests] == ["POST"] + ["GET"] * 4 + ["POST"]
    times = [t for _, _, t in cw.requests][:5]
    gaps = [later - earlier for earlier, later in zip(times, times[1:], strict=False)]
    # initial 0.02 s doubling, equal jitter: each gap at least half its step.
    for index, gap in enumerate(gaps):
        assert gap >= 0.02 * 2**index / 2
    assert gaps[-1] > gaps[0]


def test_worker_thread_delivers_within_a_second(tmp_path, psa_store, cw):
    worker = make_worker(load(tmp_path, "connectwise", cw.url))
    worker.start()
    try:
        started = time.monotonic()
        ticket = new_ticket(1)
        while not cw.tickets and time.monotonic() - started < 5:
            time.sleep(0.005)
        assert time.monotonic() - started < 1.0
    finally:
        worker.stop()
    assert PsaLink.get(PsaLink.ticket == ticket.id).psa_ticket_id


def test_found_after_a_lost_answer_still_gets_the_triage(tmp_path, psa_store, cw):
    """The lookup finds the ticket after triage: the PSA still holds the first
    attempt's state, so the priority and the answers must follow."""
    worker = make_worker(load(tmp_path, "connectwise", cw.url))
    ticket = new_ticket(1)
    cw.commit_then_drop(path=TICKETS)
    worker.step()  # created in the PSA; the answer is lost
    cw.down = True  # the PSA is away while the caller finishes triage
    triage(ticket.id, "P1")
    worker.paused_until = 0.0
    worker.step()
    cw.down = False

    drain(worker)

    assert len(cw.tickets) == 1 and cw.duplicates() == 0
    psa_id = int(_link(ticket.id).psa_ticket_id)
    assert cw.tickets[psa_id]["priority_id"] == 1
    notes = [text for i, text in cw.notes if i == psa_id]
    assert len(notes) == 1 and notes[0].startswith("Triage answers:")
    assert "Priority: P1" in notes[0]


def _wait(condition, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


def test_odd_answers_park_their_ticket_and_the_thread_goes_on(
    tmp_path, psa_store, cw, caplog
):
    """A 200 without an id, then a lookup answer the code did not expect (a
    KeyError inside the connector): each parks its own ticket, nothing more."""
    worker = make_worker(load(tmp_path, "connectwise", cw.url))
    cw.answer(200, {"ok": True}, path=TICKETS, method="POST")
    worker.start()
    try:
        odd = new_ticket(1)
        assert _wait(lambda: _parked(odd.id))
        cw.fail(500, path=TICKETS, method="POST")  # so the next one looks up
        cw.answer(200, [{"ticket": 7}], path=TICKETS, method="GET")
        broken = new_ticket(2)
        assert _wait(lambda: _parked(broken.id))
        good = new_ticket(3)
        assert _wait(lambda: _psa_id(good.id))
        assert worker.running
    finally:
        worker.stop()
    assert "the answer has no id: {'ok': True}" in _parked(odd.id).last_error
    assert _parked(broken.id).last_error == "unexpected error: KeyError: 'id'"
    logged = [r for r in caplog.records if r.levelname == "ERROR"]
    assert [r.getMessage() for r in logged] == [
        "ticket 2: unexpected error delivering to the PSA"
    ]
    assert logged[0].exc_info is not None


def _parked(ticket_id):
    return OutboxItem.get_or_none(
        OutboxItem.ticket == ticket_id, OutboxItem.state == PARKED
    )


def _psa_id(ticket_id):
    link = PsaLink.get_or_none(PsaLink.ticket == ticket_id)
    return link and link.psa_ticket_id


def test_transcript_and_recording_reach_the_psa_after_an_outage(
    tmp_path, psa_store, cw
):
    """The whole call happens while the PSA is down: one create, then the notes."""
    worker = make_worker(load(tmp_path, "connectwise", cw.url))
    ticket = new_ticket(1)
    triage(ticket.id, "P1")
    store.update_ticket(
        ticket.id,
        event="described",
        transcript="the server is down",
        transcript_confidence=0.87,
        recording_path="/var/lib/msp-intake/recordings/1.wav",
    )

    drain(worker)

    psa_id = int(_link(ticket.id).psa_ticket_id)
    notes = [text for i, text in cw.notes if i == psa_id]
    assert "Transcript of the call (confidence 0.87):\nthe server is down" in notes
    assert (
        "Recording of the caller, on the intake server: "
        "/var/lib/msp-intake/recordings/1.wav" in notes
    )


def ours(reference):
    """``MSP-12`` from the PSA's ``MSP-12-<installation id>``."""
    number, installation = reference.rsplit("-", 1)
    assert len(installation) == 8, reference
    return number


def test_changes_during_the_call_reach_the_psa_as_one_update(tmp_path, psa_store, cw):
    """Each answer is a ticket change; the PSA should not get a note per key."""
    from ari_app import store

    from .helpers import drain, load, make_worker, new_ticket, triage

    worker = make_worker(load(tmp_path, "connectwise", cw.url))
    ticket = new_ticket(1)
    drain(worker)
    assert len(cw.creates) == 1  # the create is never held
    for step, answer in (
        ("q_site_down", {"site_down": True}),
        ("q_critical", {"critical": True}),
        ("q_users", {"users_affected": 30}),
    ):
        store.update_ticket(ticket.id, event=step, step=step, **answer)
    while worker.step():
        pass
    sent = [r for r in cw.requests if r[0] in ("PATCH", "POST") and "notes" in r[1]]
    assert sent == [] and cw.notes == []  # held while the caller is in the IVR
    triage(ticket.id, "P1", site_down=True, critical=True, users_affected=30)
    drain(worker)
    assert len(cw.notes) == 1
    assert "whole site down: yes" in cw.notes[0][1]
    assert cw.tickets[int(cw.creates[0][1])]["priority_id"] == 1
