"""``msp-intake run``: the long-running service next to Asterisk.

Start-up order: the parts that live in their own packages are loaded (speech,
PSA sync, SLA clock: loading registers their tables), the store opens (tickets
must be committable before any call is taken) and replays its spool, the parts
start, then the ARI events connection. Shutdown on SIGTERM runs the other way:
calls in progress get a bounded time to finish, the rest are sent on to the
dialplan, then the connection and the store close.
"""

import asyncio
import importlib
import logging
import os
import signal

from . import spool
from .ari_ import AriClient, EventStream
from .callflow import Services
from .exceptions import AriAuthError, AriError
from .stasis import Stasis
from .store import StoreWorker

logger = logging.getLogger(__name__)

# Parts of the service that live in their own packages. Each module offers
# make_component(config, store_worker) -> object with async start() / stop(),
# or None when that part is not configured.
COMPONENT_MODULES = (
    "ari_app.speech.component",
    "ari_app.psa.component",
    "ari_app.sla.component",
)


def load_components(config, store_worker):
    components = []
    for name in COMPONENT_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name and name.startswith(exc.name):
                continue  # that part is not installed in this build
            raise
        component = module.make_component(config, store_worker)
        if component is not None:
            components.append(component)
    return components


class Service:
    def __init__(self, config):
        self.config = config
        self.store = StoreWorker(config.store_path, config.busy_timeout)
        self.ari = AriClient(config.ari)
        self.services = Services(ari=self.ari, store=self.store, config=config)
        self.stasis = Stasis(self.services)
        self.events = EventStream(self.ari, self.stasis.handle, self.stasis.on_connect)
        self.components = []
        self.stopped = asyncio.Event()
        self._events_task = None
        self._housekeeping_task = None

    async def start(self):
        # Components first: importing them registers their tables, which the
        # store then creates. make_component reads settings; it opens nothing.
        self.components = load_components(self.config, self.store)
        self.services.components = self.components
        await self.store.start()
        await self.replay_spool()
        await self.ari.open()
        await self._check_credentials()
        for component in self.components:
            await component.start()
        self._events_task = asyncio.create_task(self.events.run(), name="ari events")
        self._housekeeping_task = asyncio.create_task(
            self._housekeeping(), name="housekeeping"
        )

    async def replay_spool(self):
        """Turn contacts the store once refused into tickets, now that it takes them."""
        try:
            count = await self.store.run(
                spool.replay,
                self.config.spool_path,
                self.config.triage,
                self.config.default_region,
            )
        except Exception as exc:  # still refused: keep the spool for next time
            logger.error("spool %s: not replayed yet (%s)", self.config.spool_path, exc)
            return
        if count:
            logger.warning(
                "recovered %d ticket(s) from the spool %s",
                count,
                self.config.spool_path,
            )

    async def _housekeeping(self, every=30.0):
        while True:
            await asyncio.sleep(every)
            try:
                waiting = os.path.getsize(self.config.spool_path) > 0
            except OSError:
                waiting = False
            if waiting:
                await self.replay_spool()

    async def _check_credentials(self):
        """A wrong password must stop start-up; Asterisk being down must not."""
        try:
            await self.ari.ping()
        except AriAuthError:
            raise
        except AriError as exc:
            logger.warning("Asterisk not reachable yet (%s); will keep trying", exc)

    async def wait(self):
        """Run until stopped; an ARI authentication failure ends the service."""
        stop_task = asyncio.create_task(self.stopped.wait())
        done, _ = await asyncio.wait(
            {self._events_task, stop_task}, return_when=asyncio.FIRST_COMPLETED
        )
        stop_task.cancel()
        if self._events_task in done:
            self._events_task.result()  # re-raises AriAuthError

    async def abandon_start(self):
        """Undo a start that failed part-way (bad password, bad settings)."""
        for component in reversed(self.components):
            await component.stop()
        await self.ari.close()
        await self.store.stop()

    async def stop(self):
        logger.info(
            "stopping: finishing %d call(s) in progress", len(self.stasis.calls)
        )
        await self.stasis.drain(self.config.shutdown_grace)
        await self.events.stop()
        for task in (self._events_task, self._housekeeping_task):
            if task is not None:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
        for component in reversed(self.components):
            await component.stop()
        await self.ari.close()
        await self.store.stop()
        logger.info("stopped")


async def serve(config):
    """Run the service until SIGTERM or SIGINT."""
    service = Service(config)
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, service.stopped.set)
    try:
        try:
            await service.start()
        except BaseException:
            await service.abandon_start()
            raise
        try:
            await service.wait()
        finally:
            await service.stop()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
