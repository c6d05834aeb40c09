"""Running the real service against the Asterisk test double, for the tests."""

import asyncio
import contextlib
import os
import sys

from ari_app import config, store
from ari_app.doubles.asterisk import FakeAsterisk, ScriptedCaller, Step
from ari_app.models import Ticket
from ari_app.service import Service

QUESTION_MEDIA = ("q-site-down", "q-critical", "q-users")


def fast_config(fake, store_path, **extra):
    overrides = {
        "ari.url": fake.url,
        "ari.username": "msp-intake",
        "ari.password": "secret",
        "store.path": store_path,
        "triage.answer_timeout": "0.6",
        "triage.digit_timeout": "0.4",
        "service.shutdown_grace": "2",
    }
    overrides.update(extra)
    return config.load_config(overrides=overrides)


def answering(keys, number="+15552010101", dialed="5551000", **kwargs):
    """A caller who presses ``keys[i]`` shortly after question i starts."""
    steps = [
        Step(dtmf=key, on_media=media, delay=0.05)
        for key, media in zip(keys, QUESTION_MEDIA, strict=False)
        if key is not None
    ]
    return ScriptedCaller(caller_number=number, dialed=dialed, steps=steps, **kwargs)


@contextlib.asynccontextmanager
async def running_service(fake, store_path, **extra):
    service = Service(fast_config(fake, store_path, **extra))
    await service.start()
    await asyncio.wait_for(service.events.connected.wait(), 5)
    try:
        yield service
    finally:
        service.stopped.set()
        await service.stop()


async def settle(service, timeout=10.0):
    """Until every call task of the service has finished writing its ticket."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while service.stasis.tasks:
        if loop.time() > deadline:
            raise AssertionError(f"{len(service.stasis.tasks)} call(s) still running")
        await asyncio.sleep(0.02)


async def heard(call, fragment, times=1, timeout=10.0):
    """Until the caller has heard a prompt containing ``fragment`` ``times`` times."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while sum(fragment in media for media in call.playbacks) < times:
        if loop.time() > deadline or call.ended:
            raise AssertionError(f"{fragment} not heard; heard {call.playbacks}")
        await asyncio.sleep(0.01)


def tickets_of(store_path):
    """Read the tickets back from the SQLite file, as the CLI would."""
    store.open_store(store_path)
    try:
        return list(Ticket.select().order_by(Ticket.id))
    finally:
        store.close_store()


def new_fake(**kwargs):
    kwargs.setdefault("sound_seconds", 0.05)
    return FakeAsterisk(username="msp-intake", password="secret", **kwargs)


def write_service_config(
    folder, fake, store_path, grace=2, log_level="INFO", name="msp-intake.conf"
):
    """A config file for ``msp-intake run`` against the test double."""
    path = os.path.join(str(folder), name)
    with open(path, "w", encoding="utf-8") as handle:
        handle.write(
            f"[ari]\nurl = {fake.url}\nusername = msp-intake\npassword = secret\n"
            f"[store]\npath = {store_path}\n"
            "[triage]\nanswer_timeout = 0.6\ndigit_timeout = 0.4\n"
            f"[service]\nshutdown_grace = {grace}\nlog_level = {log_level}\n"
        )
    return path


async def start_service_process(config_path, *args, **kwargs):
    """``msp-intake run`` (or another command) as a real process."""
    kwargs.setdefault("stdout", asyncio.subprocess.PIPE)
    kwargs.setdefault("stderr", asyncio.subprocess.STDOUT)
    command = args or ("run",)
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ari_app",
        "-c",
        config_path,
        *command,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        **kwargs,
    )


async def wait_connected(fake, timeout=15):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not fake.hub.sockets:
        assert loop.time() < deadline, "the service never connected"
        await asyncio.sleep(0.05)
