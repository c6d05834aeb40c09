"""External media for one call: the UnicastRTP channel, the bridge, the teardown.

To hear the caller, the speech session asks Asterisk for an external media
channel that streams slin16 RTP to our ``RtpEndpoint`` and puts it in a mixing
bridge with the caller. Three Asterisk behaviours shape this module:

* the media channel raises its own StasisStart in our application, and it can
  arrive *before* the HTTP response of ``POST /channels/externalMedia``; so we
  choose the channel id and claim it (``Stasis.claim_channel``) before the POST,
  so its events come to us and it is never taken for a new caller;
* adding the media channel to the bridge before that StasisStart fails (422),
  so we wait for it;
* nothing hangs the media channel up when the caller goes: ``close`` deletes the
  channel and the bridge, and tolerates either being gone already.
"""

import asyncio
import logging
import uuid

from ..exceptions import AriError, ChannelGone
from ..stasis import media_ids

logger = logging.getLogger(__name__)

STASIS_START_TIMEOUT = 5.0
# dtmf_events keeps Asterisk from bridging the two RTP legs natively, which
# would take the caller's keys (and audio) out of the core.
BRIDGE_TYPE = "mixing,dtmf_events"


class MediaLeg:
    """The external media channel and bridge that carry one caller's audio to us."""

    def __init__(self, ari, claim, release, caller_id):
        self.ari = ari
        self.claim = claim  # claim(channel_id, callback(event))
        self.release = release  # release(channel_id)
        self.caller_id = caller_id
        # Recognisable ids: after a crash, Stasis.on_connect deletes the ones
        # no live call owns.
        self.channel_id, self.bridge_id = media_ids(uuid.uuid4().hex)
        self.asterisk_rtp = None  # (host, port) where Asterisk wants RTP back
        self._bridge_made = False
        self._channel_made = False

    async def open(self, app, external_host):
        """Create the media channel and bridge it with the caller."""
        started = asyncio.get_running_loop().create_future()
        self.claim(self.channel_id, lambda event: _started(started, event))
        await self.ari.request(
            "POST", "/bridges", params={"type": BRIDGE_TYPE, "bridgeId": self.bridge_id}
        )
        self._bridge_made = True
        reply = await self.ari.request(
            "POST",
            "/channels/externalMedia",
            params={
                "app": app,
                "channelId": self.channel_id,
                "external_host": external_host,
                "format": "slin16",
                "encapsulation": "rtp",
                "transport": "udp",
                "connection_type": "client",
                "direction": "both",
            },
        )
        self._channel_made = True
        self.asterisk_rtp = _rtp_address(reply)
        await asyncio.wait_for(started, STASIS_START_TIMEOUT)
        channels = f"{self.caller_id},{self.channel_id}"
        await self.ari.request(
            "POST",
            f"/bridges/{self.bridge_id}/addChannel",
            params={"channel": channels},
        )
        logger.info(
            "channel %s: external media %s bridged (%s)",
            self.caller_id,
            self.channel_id,
            external_host,
        )

    async def close(self):
        """Hang up the media channel and delete the bridge; either may be gone."""
        if self._channel_made:
            await self._quietly("DELETE", f"/channels/{self.channel_id}")
        if self._bridge_made:
            await self._quietly("DELETE", f"/bridges/{self.bridge_id}")
        self.release(self.channel_id)
        self._channel_made = self._bridge_made = False

    async def _quietly(self, method, path):
        try:
            await self.ari.request(method, path)
        except ChannelGone:
            pass  # already gone: what we wanted
        except AriError as exc:
            if exc.status != 404:
                logger.warning("channel %s: %s failed: %s", self.caller_id, path, exc)


def _started(future, event):
    if event.get("type") == "StasisStart" and not future.done():
        future.set_result(event.get("channel", {}))


def _rtp_address(reply):
    variables = (reply or {}).get("channelvars") or {}
    host = variables.get("UNICASTRTP_LOCAL_ADDRESS")
    port = variables.get("UNICASTRTP_LOCAL_PORT")
    if host and port and str(port).isdigit():
        return host, int(port)
    return None
