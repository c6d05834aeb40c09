"""A webhook receiver double: checks the HMAC-SHA256 signature and drops repeats.

It answers 401 to a bad signature, keeps each delivery id once (a retried POST
repeats its id) and answers the first delivery of a ticket with an ``id``.
"""

import hashlib
import hmac
import json

from .psa import PsaDouble, Reply

SIGNATURE_HEADER = "X-MSP-Intake-Signature"
DELIVERY_HEADER = "X-MSP-Intake-Delivery"


class WebhookDouble(PsaDouble):
    name = "webhook"

    def __init__(self, key="webhook-key"):
        super().__init__()
        self.key = key
        self.events = []  # decoded bodies, first delivery of each id only
        self.deliveries = {}  # delivery id -> times received

    def route(self, request):
        if request.method != "POST":
            raise Reply(405, {"message": "POST only"})
        digest = hmac.new(self.key.encode(), request.body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(
            request.headers.get(SIGNATURE_HEADER, ""), f"sha256={digest}"
        ):
            raise Reply(401, {"message": "bad signature"})
        delivery = request.headers.get(DELIVERY_HEADER, "")
        body = json.loads(request.body)
        with self.lock:
            seen = self.deliveries.get(delivery, 0)
            self.deliveries[delivery] = seen + 1
            if seen:
                return {"duplicate": True}
            self.events.append(body)
            if body.get("event") == "ticket.created":
                reference = body["ticket"]["reference"]
                psa_id = self.new_id()
                self.creates.append((reference, psa_id))
                return {"id": psa_id}
        return {"ok": True}
