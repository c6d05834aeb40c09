"""The SLA loop inside ``msp-intake run``.

Every ``[sla] check_interval`` seconds it asks the store thread for new at-risk
and breach marks (``monitor.scan``) and publishes each as ``sla.at_risk`` or
``sla.breached`` on ``ari_app.events`` for paging and the webhook. The first
scan runs at start, so marks that fell due while the service was down go out
then. All peewee work goes through the ``StoreWorker``; the loop never blocks.
"""

import asyncio
import logging

from .. import events
from ..models import utcnow
from . import monitor, policies, services

logger = logging.getLogger(__name__)


def make_component(config, store_worker, *, clock=utcnow):
    """Check the ``[sla]`` settings now (ConfigError) and return the loop."""
    settings = policies.load_settings(config)
    services.install(settings)
    return SlaMonitor(settings, store_worker, clock=clock)


class SlaMonitor:
    def __init__(self, settings, store_worker, *, clock=utcnow):
        self.settings = settings
        self.store_worker = store_worker
        self.clock = clock  # the tests drive time through this
        self._task = None

    async def start(self):
        # Only a warning: the directory is often imported after the config is set.
        unknown = await self.store_worker.run(services.unknown_contracts, self.settings)
        if unknown:
            logger.warning("%s", unknown)
        await self.check()
        self._task = asyncio.create_task(self._run(), name="sla-monitor")
        logger.info(
            "SLA loop started: every %ss, at risk at %d%% of a target",
            self.settings.check_interval,
            round(self.settings.at_risk_share * 100),
        )

    async def stop(self):
        if self._task is None:
            return
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass
        self._task = None
        logger.info("SLA loop stopped")

    async def check(self):
        """One pass: write new marks, publish what has not gone out, record that."""
        now = self.clock()
        due = await self.store_worker.run(monitor.scan, now)
        published = []
        for kind, payload in due:
            events.publish(kind, **payload)
            published.append(payload["event_id"])
        await self.store_worker.run(monitor.mark_published, published, now)
        return due

    async def _run(self):
        while True:
            await asyncio.sleep(self.settings.check_interval)
            try:
                await self.check()
            except Exception:
                # A locked or full disk must not end the loop; the next pass retries.
                logger.exception(
                    "SLA check failed; retrying in %ss", self.settings.check_interval
                )
