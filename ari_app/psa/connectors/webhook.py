"""A signed webhook: every ticket change as one JSON POST to a URL.

For MSPs on a PSA without a connector here, or a chat channel. The body is
signed with HMAC-SHA256 (key from the secrets file, ``[webhook] signing_key``)
and the hex digest sent as ``X-MSP-Intake-Signature: sha256=<hex>``. A webhook
cannot be asked whether it already has a ticket, so every delivery carries a
stable ``X-MSP-Intake-Delivery`` id: a retried POST repeats it and the receiver
drops the repeat.
"""

import hashlib
import hmac
import json

from ...board import ticket_to_dict
from ..reference import external_reference
from .base import Connector, Step, iso

SIGNATURE_HEADER = "X-MSP-Intake-Signature"
DELIVERY_HEADER = "X-MSP-Intake-Delivery"


def sign(key, body):
    """``sha256=<hex>`` for ``body`` (bytes) under ``key`` (str)."""
    digest = hmac.new(key.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookConnector(Connector):
    TYPE = "webhook"
    SECRET_KEYS = ("signing_key",)
    TICKETING = False

    def _post(self, event, ticket, delivery, extra=None):
        payload = {
            "event": event,
            "delivery": delivery,
            # Tells two installations' MSP-12 apart for a receiver that keeps both.
            "reference": external_reference(ticket),
            "ticket": ticket_to_dict(ticket),
        }
        payload.update(extra or {})
        body = json.dumps(payload, sort_keys=True).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self.secret("signing_key"), body),
            DELIVERY_HEADER: delivery,
        }
        return self.http.request(
            "POST", "", data=body, headers=headers, ticket=getattr(ticket, "id", None)
        )

    def create(self, ticket, delivery):
        answer = self._post("ticket.created", ticket, delivery)
        if isinstance(answer, dict) and answer.get("id") is not None:
            return str(answer["id"])  # the receiver's own ticket number
        return ticket.reference

    def plan(self, steps):
        # One POST per update: the receiver gets the whole change at once.
        if not steps:
            return []
        covers = {}
        for step in steps:
            covers.update(step.covers)
        notes = [step.value for step in steps if step.kind == "note"]
        priority = next((s.value for s in steps if s.kind == "priority"), None)
        return [Step("event", {"priority_changed": priority, "notes": notes}, covers)]

    def apply(self, psa_id, ticket, step, delivery):
        extra = {"psa_ticket_id": psa_id, **step.value}
        self._post("ticket.updated", ticket, delivery, extra)

    def check(self):
        body = json.dumps({"event": "ping", "at": iso(_now())}).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self.secret("signing_key"), body),
            DELIVERY_HEADER: "ping",
        }
        self.http.request("POST", "", data=body, headers=headers)
        return []


def _now():
    from ...models import utcnow

    return utcnow()
