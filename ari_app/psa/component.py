"""The PSA sync as a service component: ``make_component(config, store_worker)``.

The service builds it at start-up (a bad ``[psa]`` setting or a secrets file
open to other users raises ConfigError then, naming the setting), starts it
after the store and stops it before the store: the sync thread writes through
the store's own thread, so the store must outlive it.
"""

import asyncio
import logging

from .. import models
from . import install, outbox
from .connectors import make_connector
from .models import TABLES
from .settings import load_settings
from .worker import SyncWorker

logger = logging.getLogger(__name__)

# Longest a sync-thread write may wait for the store thread.
WRITE_TIMEOUT = 30.0


def make_component(config, store_worker):
    """The component, or None when no PSA is configured (sync off)."""
    settings = load_settings(config)
    if settings is None:
        return None
    install()
    outbox.install()
    return PsaComponent(settings, store_worker)


class PsaComponent:
    def __init__(self, settings, store_worker):
        self.settings = settings
        self.store_worker = store_worker
        self.worker = None

    async def start(self):
        # The store may have been opened before this package registered its tables.
        await self.store_worker.run(models.database.create_tables, TABLES, safe=True)
        loop = asyncio.get_running_loop()
        self.worker = SyncWorker(
            self.settings,
            make_connector(self.settings),
            write=_store_writer(self.store_worker, loop),
        )
        self.worker.start()

    async def stop(self):
        if self.worker is not None:
            await asyncio.to_thread(self.worker.stop, self.settings.timeout + 5)
            self.worker = None


def _store_writer(store_worker, loop):
    """``write(function)`` for the sync thread: run it in the store's thread."""

    def in_transaction(function):
        with models.database.atomic():
            return function()

    def write(function):
        future = asyncio.run_coroutine_threadsafe(
            store_worker.run(in_transaction, function), loop
        )
        return future.result(WRITE_TIMEOUT)

    return write
