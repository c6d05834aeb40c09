"""A small in-process publish/subscribe for things other parts act on.

The SLA loop publishes ``sla.at_risk`` and ``sla.breached``; on-call paging and
the webhook subscribe. Delivery is synchronous and in order; a callback that
returns a coroutine runs as a task. One failing subscriber is logged and never
stops delivery to the others, nor the publisher.
"""

import asyncio
import collections
import inspect
import logging

logger = logging.getLogger(__name__)

_subscribers = collections.defaultdict(list)
_tasks = set()  # coroutine subscribers still running; kept so none is lost


def subscribe(kind, callback):
    """Call ``callback(**payload)`` for every event of ``kind``."""
    if callback not in _subscribers[kind]:
        _subscribers[kind].append(callback)
    return callback


def unsubscribe(kind, callback):
    if callback in _subscribers[kind]:
        _subscribers[kind].remove(callback)


def publish(kind, /, **payload):
    """Deliver an event to every subscriber of ``kind``; return how many took it."""
    delivered = 0
    for callback in list(_subscribers[kind]):
        try:
            result = callback(**payload)
            if inspect.isawaitable(result):
                _keep(asyncio.ensure_future(result), kind, payload)
            delivered += 1
        except Exception:
            logger.exception(
                "subscriber %r failed on %s for ticket %s",
                callback,
                kind,
                payload.get("ticket_id"),
            )
    return delivered


def _keep(task, kind, payload):
    _tasks.add(task)

    def done(finished):
        _tasks.discard(finished)
        if not finished.cancelled() and finished.exception() is not None:
            logger.error(
                "subscriber task failed on %s for ticket %s",
                kind,
                payload.get("ticket_id"),
                exc_info=finished.exception(),
            )

    task.add_done_callback(done)
