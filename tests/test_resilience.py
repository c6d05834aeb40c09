"""The intake survives what real deployments do to it: a dropped events
WebSocket, a service killed mid-call, a stop for maintenance, and a bug in one
call's handler."""

import asyncio
import signal

from ari_app import callflow, models, stasis
from ari_app.doubles.asterisk import ScriptedCaller, Step

from .intake_helpers import (
    answering,
    heard,
    running_service,
    settle,
    start_service_process,
    tickets_of,
    wait_connected,
    write_service_config,
)
from .test_intake import store_timeline


async def test_websocket_drop_mid_call(fake, store_path):
    steps = [
        Step(dtmf="1", on_media="q-site-down", delay=0.01),
        # Pressed well after the drop, once the app has reconnected.
        Step(dtmf="1", on_media="q-critical", delay=1.0),
        Step(dtmf="4#", on_media="q-users", delay=0.01),
    ]
    async with running_service(fake, store_path) as service:
        call = await fake.place_call(
            ScriptedCaller(caller_number="+1555201", steps=steps)
        )
        await heard(call, "q-critical")
        await fake.drop_websockets()
        await call.wait_ended(timeout=15)
        await settle(service)
        assert service.events.connections == 2
    (ticket,) = tickets_of(store_path)
    assert ticket.status == models.OPEN
    assert ticket.priority == "P1"
    assert (ticket.site_down, ticket.critical, ticket.users_affected) == (True, True, 4)


async def test_killed_mid_call_then_restarted_readopts_without_duplicate(
    fake, store_path, tmp_path
):
    config_path = write_service_config(tmp_path, fake, store_path)
    steps = [
        Step(dtmf="1", on_media="q-site-down", delay=0.01),
        Step(on_media="q-critical"),  # the first play: the service dies here
        Step(dtmf="1", on_media="q-critical", delay=0.05),  # asked again
        Step(dtmf="8#", on_media="q-users", delay=0.01),
    ]
    first = await start_service_process(config_path)
    second = None
    try:
        await wait_connected(fake)
        call = await fake.place_call(
            ScriptedCaller(caller_number="+1555201", steps=steps)
        )
        await heard(call, "q-critical")
        first.kill()  # SIGKILL: no chance to clean up
        await first.wait()
        assert not call.ended
        second = await start_service_process(config_path)
        await call.wait_ended(timeout=20)
        await asyncio.sleep(0.5)  # let the second process write the end
    finally:
        for process in (first, second):
            if process and process.returncode is None:
                process.terminate()
                await process.wait()
    (ticket,) = tickets_of(store_path)
    assert ticket.channel_id == call.channel_id
    assert (ticket.site_down, ticket.critical, ticket.users_affected) == (True, True, 8)
    assert ticket.priority == "P1"
    assert ticket.status == models.OPEN
    kinds = [event.kind for event in store_timeline(store_path, ticket.id)]
    assert kinds.count("ticket_opened") == 1
    assert "re_adopted" in kinds
    assert call.playbacks.count("sound:msp-intake/greeting") == 1


async def test_sigterm_lets_calls_finish_then_exits(fake, store_path, tmp_path):
    config_path = write_service_config(tmp_path, fake, store_path, grace=5)
    process = await start_service_process(config_path)
    try:
        await wait_connected(fake)
        call = await fake.place_call(answering(["2", "2", "1#"]))
        await heard(call, "q-site-down")
        process.send_signal(signal.SIGTERM)
        await call.wait_ended(timeout=10)
        code = await asyncio.wait_for(process.wait(), 15)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert code == 0
    assert call.hung_up_by == "app"  # finished the IVR, not cut off
    (ticket,) = tickets_of(store_path)
    assert ticket.priority == "P4"


async def test_sigterm_sends_a_slow_call_on_to_the_dialplan(fake, store_path, tmp_path):
    config_path = write_service_config(tmp_path, fake, store_path, grace=0.5)
    process = await start_service_process(config_path)
    try:
        await wait_connected(fake)
        call = await fake.place_call(ScriptedCaller(caller_number="+1555201"))
        await heard(call, "q-site-down")
        process.send_signal(signal.SIGTERM)
        await call.wait_ended(timeout=10)
        code = await asyncio.wait_for(process.wait(), 15)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert code == 0
    assert call.continued_to is not None  # to a person, not dropped
    assert call.continued_to.context == "msp-intake-after"
    (ticket,) = tickets_of(store_path)
    assert ticket.ended_at is not None
    assert ticket.status == models.OPEN


async def test_one_failing_call_does_not_disturb_another(fake, store_path, monkeypatch):
    """Faults are injected with monkeypatch (nothing here can make the real
    code fail on demand): the first caller's DTMF handler and its priority step
    raise; the second caller must not notice."""
    victim = {}
    real_key_pressed = callflow.Call.key_pressed
    real_set_priority = callflow.Call._set_priority

    def key_pressed(self, digit):
        if self.channel_id == victim.get("id") and digit == "9":
            raise RuntimeError("injected handler failure")
        real_key_pressed(self, digit)

    async def set_priority(self):
        if self.channel_id == victim.get("id"):
            raise RuntimeError("injected flow failure")
        await real_set_priority(self)

    monkeypatch.setattr(callflow.Call, "key_pressed", key_pressed)
    monkeypatch.setattr(callflow.Call, "_set_priority", set_priority)
    async with running_service(fake, store_path) as service:
        bad = await fake.place_call(
            ScriptedCaller(
                caller_number="+15552010101",
                steps=[
                    Step(dtmf="9", on_media="greeting"),
                    Step(dtmf="1", on_media="q-site-down", delay=0.01),
                    Step(dtmf="1", on_media="q-critical", delay=0.01),
                    Step(dtmf="2#", on_media="q-users", delay=0.01),
                ],
            )
        )
        victim["id"] = bad.channel_id
        good = await fake.place_call(answering(["1", "2", "3#"], number="+15552010202"))
        await asyncio.gather(bad.wait_ended(timeout=10), good.wait_ended(timeout=10))
        await settle(service)
    tickets = {t.channel_id: t for t in tickets_of(store_path)}
    assert tickets[good.channel_id].priority == "P2"
    assert tickets[good.channel_id].status == models.OPEN
    assert good.hung_up_by == "app"
    # The failing call keeps its ticket and its caller is sent on, not dropped.
    assert tickets[bad.channel_id].site_down is True
    assert bad.continued_to is not None
    assert stasis.handler_name("ChannelDtmfReceived") == "channel_dtmf_received"


async def test_a_locked_store_spools_the_contact_and_sends_the_caller_on(
    fake, store_path
):
    """Another process holds SQLite's write lock (a long import, a backup):
    the caller goes to the fallback at once and the contact becomes a ticket
    as soon as the store takes writes again."""
    import sqlite3

    async with running_service(fake, store_path, **{"store.busy_timeout": "0.3"}) as s:
        blocker = sqlite3.connect(store_path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            call = await fake.place_call(answering(["1", "1", "2#"]))
            await call.wait_ended(timeout=10)
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert call.continued_to.context == "msp-intake-fallback"
        assert call.variables["MSP_INTAKE_STATUS"] == "NO_TICKET"
        spooled = open(s.config.spool_path).read()
        assert call.channel_id in spooled
        await s.replay_spool()
        await settle(s)
    (ticket,) = tickets_of(store_path)
    assert ticket.channel_id == call.channel_id
    assert ticket.contact_at == callflow.parse_creationtime(call.creationtime)
    assert ticket.status == models.OPEN
    assert ticket.priority == "P3"  # not triaged: all answers unknown
    assert open(s.config.spool_path).read() == ""


async def test_a_caller_who_left_while_the_service_was_down_is_closed(
    fake, store_path, tmp_path
):
    config_path = write_service_config(tmp_path, fake, store_path)
    steps = [
        Step(dtmf="1", on_media="q-site-down", delay=0.01),
        Step(hangup=True, at=2.5),  # while the service is dead
    ]
    first = await start_service_process(config_path)
    second = None
    try:
        await wait_connected(fake)
        call = await fake.place_call(
            ScriptedCaller(caller_number="+1555201", steps=steps)
        )
        await heard(call, "q-critical")
        first.kill()
        await first.wait()
        await call.wait_ended(timeout=10)
        second = await start_service_process(config_path)
        await wait_connected(fake)
        await asyncio.sleep(1.0)
    finally:
        for process in (first, second):
            if process and process.returncode is None:
                process.terminate()
                await process.wait()
    (ticket,) = tickets_of(store_path)
    assert ticket.status == models.ABANDONED
    assert ticket.site_down is True
    assert ticket.priority == "P2"  # from the answer given before the crash
    assert ticket.ended_at is not None


async def until(condition, timeout=5.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition() and loop.time() < deadline:
        await asyncio.sleep(0.02)
    return condition()


async def test_media_left_by_a_killed_service_is_removed_on_connect(fake, store_path):
    # What a SIGKILL during a voice call leaves: a media channel and its bridge
    # (and a bridge from a version with the older prefix); not ours: another's.
    dead_channel, dead_bridge = stasis.media_ids("dead")
    await fake.pbx.external_media(
        {
            "app": "msp-intake",
            "channelId": dead_channel,
            "external_host": "127.0.0.1:9",
            "format": "slin16",
        }
    )
    assert dead_channel in fake.pbx.lines
    fake.pbx.create_bridge("mixing", dead_bridge, "")
    fake.pbx.create_bridge("mixing", "msp-bridge-0ld", "")
    fake.pbx.create_bridge("mixing", "conference-7", "")
    async with running_service(fake, store_path) as service:
        assert await until(lambda: set(fake.pbx.bridges) == {"conference-7"})
        assert await until(lambda: dead_channel not in fake.pbx.lines)

        # A live call's media is kept across a reconnect.
        live_channel, live_bridge = stasis.media_ids("live")
        service.stasis.claim_channel(live_channel, lambda event: None)
        fake.pbx.create_bridge("mixing", live_bridge, "")
        await fake.drop_websockets()
        assert await until(lambda: service.events.connections == 2)
        await asyncio.sleep(0.3)
        assert set(fake.pbx.bridges) == {"conference-7", live_bridge}


async def test_while_the_store_is_locked_callers_do_not_queue_behind_each_other(
    fake, store_path
):
    """Each refused ticket waiting its own busy_timeout would make the tenth
    caller ring for ten timeouts; after the first refusal the rest go on fast."""
    import sqlite3
    import time

    async with running_service(fake, store_path, **{"store.busy_timeout": "1.0"}) as s:
        blocker = sqlite3.connect(store_path, isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        try:
            started = time.monotonic()
            first = await fake.place_call(answering(["1", "1", "2#"]))
            await first.wait_ended(timeout=10)
            later = []
            for n in range(5):
                later.append(
                    await fake.place_call(answering(["2"], number=f"+1555{n}"))
                )
            await asyncio.gather(*(c.wait_ended(timeout=10) for c in later))
            elapsed = time.monotonic() - started
        finally:
            blocker.execute("ROLLBACK")
            blocker.close()
        assert all(c.continued_to.context == "msp-intake-fallback" for c in later)
        # One full wait for the first, then about 0.2 s each: far below 6 x 1 s.
        assert elapsed < 3.5, elapsed
        await s.replay_spool()
        after = await fake.place_call(answering(["1", "1", "2#"]))
        await after.wait_ended(timeout=10)
        await settle(s)
    tickets = tickets_of(store_path)
    assert len(tickets) == 7  # six from the spool, one committed normally
    assert after.hung_up_by == "app"  # writes go through again: a normal call
