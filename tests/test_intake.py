"""The intake end to end: the real service, the Asterisk test double, real
sockets on 127.0.0.1 and a real SQLite file."""

import asyncio

import pytest

from ari_app import callflow, models, store
from ari_app.doubles.asterisk import ScriptedCaller, Step

from .intake_helpers import answering, running_service, settle, tickets_of


async def test_twenty_concurrent_calls_keep_the_pbx_contact_time(fake, store_path):
    async with running_service(fake, store_path) as service:
        callers = [
            answering(["1", "2", f"{n + 1}#"], number=f"+1555201{n:04d}")
            for n in range(20)
        ]
        calls = await asyncio.gather(*(fake.place_call(c) for c in callers))
        await asyncio.gather(*(call.wait_ended(timeout=20) for call in calls))
        await settle(service)
    tickets = {t.channel_id: t for t in tickets_of(store_path)}
    assert len(tickets) == 20
    for call in calls:
        expected = callflow.parse_creationtime(call.creationtime)
        ticket = tickets[call.channel_id]
        # To the millisecond, converted from the PBX's -0500 to UTC.
        assert ticket.contact_at == expected
        assert ticket.contact_at.microsecond % 1000 == 0
        assert ticket.status == models.OPEN
        assert ticket.priority == "P2"


async def test_ticket_is_committed_before_the_call_is_answered(fake, store_path):
    async with running_service(fake, store_path) as service:
        call = await fake.place_call(answering(["1", "1", "3#"]))
        await call.wait_ended(timeout=10)
        await settle(service)
        ticket = tickets_of_in(service, call.channel_id)
    kinds = [event.kind for event in ticket]
    assert kinds.index("ticket_opened") < kinds.index("answered")
    assert kinds[0] == "channel_created"
    assert "priority_set" in kinds and kinds[-1] == "ended"


def tickets_of_in(service, channel_id):
    ticket = models.Ticket.get(models.Ticket.channel_id == channel_id)
    return store.timeline(ticket.id)


HANGUPS = {
    # where the caller hangs up -> the last triage step the ticket reached
    "before answer": (
        [Step(hangup=True, before_answer=True)],
        "ticket_opened",
    ),
    "during the greeting": (
        [Step(hangup=True, on_media="greeting", delay=0.01)],
        "greeting",
    ),
    "after question 1": (
        [
            Step(dtmf="1", on_media="q-site-down", delay=0.01),
            Step(hangup=True, on_media="q-critical", delay=0.01),
        ],
        "q_critical",
    ),
    "in the middle of question 3": (
        [
            Step(dtmf="2", on_media="q-site-down", delay=0.01),
            Step(dtmf="1", on_media="q-critical", delay=0.01),
            # One step: a key, then the hangup before the number is finished.
            Step(dtmf="1", hangup=True, on_media="q-users", delay=0.01),
        ],
        "q_users",
    ),
}


@pytest.mark.parametrize("moment", list(HANGUPS))
async def test_hangup_at_any_step_leaves_one_abandoned_ticket(fake, store_path, moment):
    steps, last_step = HANGUPS[moment]
    async with running_service(fake, store_path) as service:
        call = await fake.place_call(
            ScriptedCaller(caller_number="+15552010101", steps=steps)
        )
        await call.wait_ended(timeout=10)
        await settle(service)
    (ticket,) = tickets_of(store_path)
    assert ticket.status == models.ABANDONED
    assert ticket.ended_at is not None
    reached = ticket.steps()
    assert reached[-1] == "ended"
    assert reached[-2] == last_step
    assert "priority_set" not in reached
    if moment == "after question 1":
        assert ticket.site_down is True
        assert ticket.priority == "P2"  # what was learned still counts
    if moment == "before answer":
        assert "answered" not in reached
        assert ticket.priority is None


async def test_unknown_withheld_and_malformed_callers_get_tickets(fake, store_path):
    numbers = {
        "+15559990000": "unknown",
        "anonymous": "withheld",
        "": "withheld",
        "12#@!": "malformed",
    }
    async with running_service(fake, store_path) as service:
        calls = [
            await fake.place_call(answering(["2", "2", "1#"], number=n))
            for n in numbers
        ]
        await asyncio.gather(*(c.wait_ended(timeout=10) for c in calls))
        await settle(service)
    tickets = tickets_of(store_path)
    assert sorted((t.caller_number, t.caller_flag) for t in tickets) == sorted(
        numbers.items()
    )
    assert all(t.company_id is None and t.priority == "P4" for t in tickets)


async def test_invalid_keys_are_asked_again_then_unknown(fake, store_path):
    steps = [
        Step(dtmf="7", on_media="q-site-down", delay=0.01),  # invalid
        Step(dtmf="1", on_media="q-site-down", delay=0.01),  # asked again: yes
        Step(dtmf="*", on_media="q-critical", delay=0.01),
        Step(dtmf="9", on_media="q-critical", delay=0.01),
        Step(dtmf="#", on_media="q-critical", delay=0.01),  # three bad: unknown
        Step(dtmf="A", on_media="q-users", delay=0.01),
        Step(dtmf="12#", on_media="q-users", delay=0.01),
    ]
    async with running_service(fake, store_path) as service:
        call = await fake.place_call(
            ScriptedCaller(caller_number="+15552010101", steps=steps)
        )
        await call.wait_ended(timeout=15)
        await settle(service)
    (ticket,) = tickets_of(store_path)
    assert (ticket.site_down, ticket.critical, ticket.users_affected) == (
        True,
        None,
        12,
    )
    assert ticket.priority == "P2"
    assert ticket.status == models.OPEN
    assert call.playbacks.count("sound:msp-intake/invalid") >= 3


async def test_mashed_keys_never_drop_the_call(fake, store_path):
    garbage = "A1B2C3*#9D"
    steps = [
        Step(dtmf=garbage, on_media=media, delay=0.01)
        for media in ("greeting", "q-site-down", "q-critical", "q-users")
    ]
    async with running_service(fake, store_path) as service:
        call = await fake.place_call(
            ScriptedCaller(caller_number="+15552010101", steps=steps)
        )
        await call.wait_ended(timeout=20)
        await settle(service)
    (ticket,) = tickets_of(store_path)
    assert ticket.status == models.OPEN
    assert ticket.priority in ("P1", "P2", "P3", "P4")
    assert call.hung_up_by == "app"


async def test_a_silent_caller_is_never_dropped(fake, store_path):
    async with running_service(fake, store_path) as service:
        call = await fake.place_call(ScriptedCaller(caller_number="+15552010101"))
        await call.wait_ended(timeout=20)
        await settle(service)
    (ticket,) = tickets_of(store_path)
    assert (ticket.site_down, ticket.critical, ticket.users_affected) == (
        None,
        None,
        None,
    )
    assert ticket.priority == "P3"  # all unknown
    assert ticket.status == models.OPEN
    assert call.variables["MSP_PRIORITY"] == "P3"
    assert call.playbacks.count("sound:msp-intake/q-site-down") == 3
    assert call.hung_up_by == "app"


async def test_keys_during_the_greeting_answer_the_first_question(fake, store_path):
    steps = [
        Step(dtmf="1", on_media="greeting", delay=0.01),
        Step(dtmf="2", on_media="q-critical", delay=0.01),
        Step(dtmf="3#", on_media="q-users", delay=0.01),
    ]
    async with running_service(fake, store_path) as service:
        call = await fake.place_call(
            ScriptedCaller(caller_number="+1555201", steps=steps)
        )
        await call.wait_ended(timeout=10)
        await settle(service)
    (ticket,) = tickets_of(store_path)
    assert ticket.site_down is True
    assert "sound:msp-intake/q-site-down" not in call.playbacks


async def test_the_end_sets_variables_reads_back_and_continues(fake, store_path):
    async with running_service(fake, store_path, **{"triage.after": "continue"}) as s:
        call = await fake.place_call(answering(["1", "1", "30#"]))
        await call.wait_ended(timeout=10)
        await settle(s)
    (ticket,) = tickets_of(store_path)
    assert call.variables["MSP_TICKET_ID"] == ticket.reference
    assert call.variables["MSP_PRIORITY"] == "P1"
    assert f"digits:{ticket.id}" in call.playbacks
    assert call.continued_to.context == "msp-intake-after"
    assert ticket.status == models.OPEN


async def test_a_missing_prompt_file_does_not_stop_the_call(fake, store_path):
    fake.sound_exists = lambda name: "greeting" not in name
    async with running_service(fake, store_path) as service:
        call = await fake.place_call(answering(["2", "2", "1#"]))
        await call.wait_ended(timeout=10)
        await settle(service)
    (ticket,) = tickets_of(store_path)
    assert ticket.priority == "P4"
    events = [e.kind for e in store_timeline(store_path, ticket.id)]
    assert "prompt_failed" in events


def store_timeline(store_path, ticket_id):
    store.open_store(store_path)
    try:
        return store.timeline(ticket_id)
    finally:
        store.close_store()


async def test_the_timeline_says_who_ended_the_call(fake, store_path):
    async with running_service(fake, store_path) as service:
        finished = await fake.place_call(answering(["2", "2", "1#"]))
        left = await fake.place_call(
            ScriptedCaller(
                caller_number="+15552010101",
                steps=[Step(hangup=True, on_media="q-site-down", delay=0.01)],
                technology="Local",
            )
        )
        await asyncio.gather(finished.wait_ended(10), left.wait_ended(10))
        await settle(service)
    tickets = {t.channel_id: t for t in tickets_of(store_path)}
    assert tickets[finished.channel_id].hangup_cause == (
        "msp-intake hung up after triage"
    )
    assert tickets[left.channel_id].hangup_cause == (
        "caller hung up (cause 16, normal clearing)"
    )
