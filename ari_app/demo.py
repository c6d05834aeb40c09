"""``msp-intake demo``: a bad Monday, replayed against the built-in Asterisk.

At 08:47 three clients call at once: Acme Dental lost power and the whole office
is down (P1), a lawyer at Birch Law cannot open a mailbox, and Cedar Clinic's
remote staff ask about the VPN. The demo starts the Asterisk test double and
the real service in one process, on 127.0.0.1, plays the three callers through
the IVR by keypad, and prints the board the dispatcher would see.
"""

import asyncio
import contextlib
import datetime
import os
import tempfile
import time
import zoneinfo

from . import board, config, directory, models, store
from .doubles.asterisk import FakeAsterisk, ScriptedCaller, Step
from .doubles.psa_connectwise import start_demo_psa
from .service import Service

DIRECTORY = """company,contact,phone,email,support_number
Acme Dental,Dana Reyes,+1 555 201 0101,dana@acme-dental.example,+1 555 100 0001
Birch Law,Pat Kim,+1 555 201 0202,pat@birchlaw.example,+1 555 100 0002
Cedar Clinic,Robin Lee,+1 555 201 0303,robin@cedarclinic.example,+1 555 100 0003
"""

# Who calls, and the keys they press when they hear each question.
CALLERS = (
    # Power cut: the whole office is down, the server and the internet line too.
    ("+1 (555) 201-0101", "Dana Reyes", "5551000001", ("1", "1", "25#")),
    # One mailbox will not open: just her, nothing critical.
    ("5552010202", "Pat Kim", "5551000002", ("2", "2", "1#")),
    # The VPN question: not the office, not critical, six remote staff.
    ("+15552010303", "Robin Lee", "5551000003", ("2", "2", "6#")),
)
QUESTION_MEDIA = ("q-site-down", "q-critical", "q-users")

# 08:47 on the next Monday, in the PBX's zone, for the clock of the test double.
PBX_UTC_OFFSET = "-0500"
DEMO_TIMEZONE = "America/New_York"


def monday_0847_epoch():
    zone = zoneinfo.ZoneInfo(DEMO_TIMEZONE)
    today = datetime.datetime.now(zone).date()
    monday = today + datetime.timedelta(days=(7 - today.weekday()) % 7)
    start = datetime.datetime.combine(monday, datetime.time(8, 47), zone)
    return start.timestamp()


def demo_config(fake, store_path, psa_overrides):
    return config.load_config(
        overrides={
            **psa_overrides,
            "ari.url": fake.url,
            "ari.username": "msp-intake",
            "ari.password": "demo",
            "store.path": store_path,
            "intake.timezone": DEMO_TIMEZONE,
            # The demo is the keypad IVR: no prompt files or speech model needed.
            "speech.enabled": "no",
            "triage.answer_timeout": "2",
            "triage.digit_timeout": "1",
            "service.shutdown_grace": "5",
        }
    )


def scripted_callers():
    for number, name, dialed, keys in CALLERS:
        steps = [
            Step(dtmf=key, on_media=media, delay=0.2)
            for key, media in zip(keys, QUESTION_MEDIA, strict=True)
        ]
        yield ScriptedCaller(
            caller_number=number,
            caller_name=name,
            dialed=dialed,
            technology="PJSIP",
            steps=steps,
        )


async def replay(store_path, psa_overrides):
    shift = monday_0847_epoch() - time.time()
    models.shift_clock(shift)
    fake = FakeAsterisk(
        username="msp-intake",
        password="demo",
        utc_offset=PBX_UTC_OFFSET,
        sound_seconds=0.5,
        start_at=time.time() + shift,
    )
    await fake.start()
    try:
        conf = demo_config(fake, store_path, psa_overrides)
        service = Service(conf)
        await service.start()
        await service.events.connected.wait()
        calls = [await fake.place_call(c) for c in scripted_callers()]
        await asyncio.gather(*(call.wait_ended(timeout=45) for call in calls))
        # Let the service write each call's end, and the PSA sync deliver it,
        # before the board is read.
        await _until_settled(service)
        await _until_in_psa(service, len(calls))
        service.stopped.set()
        await service.stop()
    finally:
        await fake.stop()
        models.shift_clock(0)


async def _until_settled(service, timeout=10.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while service.stasis.tasks and loop.time() < deadline:
        await asyncio.sleep(0.05)


async def _until_in_psa(service, count, timeout=15.0):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        synced = await service.store.run(_synced_count)
        if synced >= count:
            return
        await asyncio.sleep(0.1)


def _synced_count():
    tickets = board.query_tickets()
    return sum(1 for t in tickets if board.ticket_to_dict(t).get("psa_ticket_id"))


def run_demo(json_output=False, store_path=None):
    with contextlib.ExitStack() as stack:
        if store_path is None:
            folder = stack.enter_context(tempfile.TemporaryDirectory())
            store_path = os.path.join(folder, "demo.sqlite3")
        store.open_store(store_path)
        csv_path = os.path.join(
            os.path.dirname(os.path.abspath(store_path)), "demo-directory.csv"
        )
        with open(csv_path, "w", encoding="utf-8") as handle:
            handle.write(DIRECTORY)
        directory.import_csv(csv_path, "US")
        store.close_store()

        # The MSP's PSA, played by a ConnectWise double on 127.0.0.1.
        psa, psa_overrides = start_demo_psa(
            stack.enter_context(tempfile.TemporaryDirectory())
        )
        stack.callback(psa.stop)
        asyncio.run(replay(store_path, psa_overrides))

        store.open_store(store_path)
        tickets = board.query_tickets()
        if json_output:
            print(board.tickets_json(tickets))
        else:
            print("A bad Monday, 08:47: three clients call at once.\n")
            print(board.board_table(tickets, DEMO_TIMEZONE))
        store.close_store()
    return 0
