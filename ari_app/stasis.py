"""ARI event handlers: find the call an event is about and hand it over.

Each handler is named after its ARI event and does little: look up the call,
return early if the event is not ours, pass the fact on. A failing handler is
logged with its channel id and never stops the delivery of other events.

Channels that Asterisk raises into the application for media (external media,
snoop) are not callers: whoever created them registers their id with
``claim_channel`` before asking Asterisk for them, because their StasisStart
can arrive before the REST response that creates them.
"""

import asyncio
import collections
import logging
import re

from . import callflow, store, triage
from .exceptions import AriError, ChannelGone

logger = logging.getLogger(__name__)

_CAMEL = re.compile(r"(?<!^)(?=[A-Z])")
_MEDIA_PREFIXES = ("UnicastRTP/", "Snoop/", "WebSocket/", "AudioSocket/")

# Ids of what msp-intake creates on Asterisk to hear a caller: a media channel
# and its bridge share one token, so a bridge belongs to a live call exactly when
# its media channel is claimed. Versions before these prefixes used the legacy
# ones, which only a killed older process can have left behind.
MEDIA_CHANNEL_PREFIX = "msp-intake-media-"
MEDIA_BRIDGE_PREFIX = "msp-intake-bridge-"
_LEGACY_MEDIA_PREFIXES = ("msp-media-", "msp-bridge-")


def media_ids(token):
    """``(channel id, bridge id)`` for one call's external media."""
    return MEDIA_CHANNEL_PREFIX + token, MEDIA_BRIDGE_PREFIX + token


def _media_channel_of(object_id):
    """The media channel an id of ours goes with, or None if it is not ours."""
    if object_id.startswith(MEDIA_CHANNEL_PREFIX):
        return object_id
    if object_id.startswith(MEDIA_BRIDGE_PREFIX):
        return MEDIA_CHANNEL_PREFIX + object_id[len(MEDIA_BRIDGE_PREFIX) :]
    if object_id.startswith(_LEGACY_MEDIA_PREFIXES):
        return ""  # never claimed by this version: always an orphan
    return None


def handler_name(event_type):
    """``ChannelDtmfReceived`` -> ``channel_dtmf_received``."""
    return _CAMEL.sub("_", event_type).lower()


class Stasis:
    """Routes the events of one Stasis application to its calls."""

    def __init__(self, services):
        self.services = services
        self.calls = {}  # channel id -> callflow.Call
        self.claimed = {}  # channel id -> callback(event) for media channels
        self.tasks = set()
        self.draining = False
        services.claim_channel = self.claim_channel
        services.release_channel = self.release_channel
        # Recent StasisStart-to-ticket-committed times, for benchmarks and status.
        self.commit_latencies = collections.deque(maxlen=10000)

    # Dispatch.

    def handle(self, event):
        method = getattr(self, handler_name(event.get("type", "")), None)
        if method is None:
            return
        try:
            method(event)
        except Exception:
            channel = event.get("channel", {}).get("id", "-")
            logger.exception("call %s: %s handler failed", channel, event.get("type"))

    def claim_channel(self, channel_id, callback):
        self.claimed[channel_id] = callback

    def release_channel(self, channel_id):
        self.claimed.pop(channel_id, None)

    # Handlers.

    def stasis_start(self, event):
        channel = event["channel"]
        channel_id = channel["id"]
        if self._to_claimed(channel_id, event):
            return
        args = event.get("args", [])
        if channel.get("name", "").startswith(_MEDIA_PREFIXES):
            logger.debug("call %s: media channel not ours, ignored", channel_id)
            return
        if channel_id in self.calls:
            return  # a repeat after a reconnect
        contact_at, source = callflow.contact_time(event)
        self.start_call(channel, args, contact_at, source)

    def stasis_end(self, event):
        channel_id = event["channel"]["id"]
        if self._to_claimed(channel_id, event):
            return
        call = self.calls.get(channel_id)
        if call is not None:
            call.hung_up()

    def channel_hangup_request(self, event):
        channel_id = event["channel"]["id"]
        if self._to_claimed(channel_id, event):
            return
        call = self.calls.get(channel_id)
        if call is not None:
            # A soft hangup is our own DELETE (its "cause" 32 is a flag, not a
            # Q.850 cause); PJSIP sends a caller's hangup with no cause at all.
            soft = event.get("soft", False)
            call.hung_up(None if soft else event.get("cause"), by_caller=not soft)

    def channel_dtmf_received(self, event):
        call = self.calls.get(event["channel"]["id"])
        if call is not None:
            call.key_pressed(event["digit"])

    def playback_finished(self, event):
        playback = event["playback"]
        target = playback.get("target_uri", "")
        if not target.startswith("channel:"):
            return
        call = self.calls.get(target[len("channel:") :])
        if call is not None:
            call.playback_finished(playback["id"], playback.get("state"))

    def _to_claimed(self, channel_id, event):
        callback = self.claimed.get(channel_id)
        if callback is None:
            return False
        callback(event)
        return True

    # Calls.

    def start_call(self, channel, args, contact_at, source, resumed=False):
        call = callflow.Call(
            self.services, channel, args, contact_at, source, resumed=resumed
        )
        if self.draining:
            call.drain()
        self.calls[call.channel_id] = call
        task = asyncio.create_task(self._run_call(call), name=f"call {call.channel_id}")
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return call

    async def _run_call(self, call):
        try:
            await call.run()
        finally:
            self.calls.pop(call.channel_id, None)
            if call.commit_latency is not None:
                self.commit_latencies.append(call.commit_latency)

    async def on_connect(self):
        """After every (re)connection: adopt channels we do not know, and check
        on those we do, since their events during the gap were dropped."""
        await self._remove_orphaned_media()
        app = await self.services.ari.application(self.services.config.ari.app)
        live = list(app.get("channel_ids", []))
        for channel_id in live:
            if channel_id in self.calls or channel_id in self.claimed:
                continue
            await self._adopt(channel_id)
        for call in list(self.calls.values()):
            await self._resync(call)
        await self._close_stale(live + list(self.calls))

    async def _remove_orphaned_media(self):
        """Delete media channels and bridges of ours that no live call owns.

        A killed msp-intake cannot tear down a caller's media leg, and Asterisk
        keeps an empty ARI bridge until someone deletes it.
        """
        ari = self.services.ari
        try:
            channels = await ari.request("GET", "/channels") or []
            bridges = await ari.request("GET", "/bridges") or []
        except AriError as exc:
            logger.warning("media clean-up skipped: cannot list (%s)", exc)
            return
        removed = []
        for kind, items in (("channels", channels), ("bridges", bridges)):
            for item in items:
                object_id = item.get("id", "")
                owner = _media_channel_of(object_id)
                if owner is None or owner in self.claimed:
                    continue  # not ours, or a live call's
                await self._delete_quietly(f"/{kind}/{object_id}")
                removed.append(object_id)
        if removed:
            logger.warning(
                "removed %d media channel(s) and bridge(s) left by an earlier "
                "msp-intake: %s",
                len(removed),
                ", ".join(removed),
            )

    async def _delete_quietly(self, path):
        try:
            await self.services.ari.request("DELETE", path)
        except AriError as exc:
            if exc.status != 404 and not isinstance(exc, ChannelGone):
                logger.warning("media clean-up: DELETE %s failed: %s", path, exc)

    async def _close_stale(self, live):
        settings = self.services.config.triage

        def partial(ticket):
            answers = triage.Answers(
                ticket.site_down, ticket.critical, ticket.users_affected
            )
            return callflow.partial_priority(answers, settings)

        closed = await self.services.store.run(store.close_stale_tickets, live, partial)
        if closed:
            logger.warning(
                "closed %d ticket(s) whose call ended while msp-intake was away: %s",
                len(closed),
                ", ".join(closed),
            )

    async def _adopt(self, channel_id):
        """A channel in our application that this process does not know: the
        service restarted while the call was in the IVR."""
        try:
            channel = await self.services.ari.get_channel(channel_id)
        except ChannelGone:
            return
        if channel.get("name", "").startswith(_MEDIA_PREFIXES):
            logger.info("call %s: orphaned media channel hung up", channel_id)
            await self._hangup_quietly(channel_id)
            return
        args = _stasis_args(channel)
        if not args or args[0] != "inbound":
            return
        contact_at, source = callflow.contact_time({"channel": channel})
        logger.info("call %s: adopting a call already in the application", channel_id)
        # Resumed or new is told by whether its ticket exists: a call can reach
        # the application while we reconnect, before its StasisStart is read.
        self.start_call(channel, args, contact_at, source)

    async def _resync(self, call):
        try:
            await self.services.ari.get_channel(call.channel_id)
        except ChannelGone:
            call.hung_up()
            return
        playback_id = call.current_playback
        if playback_id is None:
            return
        try:
            await self.services.ari.get_playback(playback_id)
        except AriError as exc:
            if exc.status == 404:  # it ended while we were not listening
                call.playback_finished(playback_id, "done")

    async def _hangup_quietly(self, channel_id):
        try:
            await self.services.ari.hangup(channel_id)
        except AriError:
            pass

    async def drain(self, grace):
        """Stop gracefully: calls get ``grace`` seconds, then are sent on to the
        dialplan so that no caller is cut off."""
        self.draining = True
        if self.tasks:
            logger.info(
                "waiting up to %.0f s for %d call(s) to finish", grace, len(self.tasks)
            )
            await asyncio.wait(set(self.tasks), timeout=grace)
        for call in list(self.calls.values()):
            call.drain()
        if self.tasks:
            await asyncio.wait(set(self.tasks), timeout=10)
        for task in set(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.gather(*self.tasks, return_exceptions=True)


def _stasis_args(channel):
    """The Stasis() arguments, read back from the channel's dialplan app data."""
    dialplan = channel.get("dialplan", {})
    if dialplan.get("app_name") != "Stasis":
        return []
    return dialplan.get("app_data", "").split(",")[1:]
