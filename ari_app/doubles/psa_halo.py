"""A HaloPSA double: ``/auth/token`` and ``/api`` on 127.0.0.1.

Issues bearer tokens for client credentials (``?tenant=`` checked when set),
refuses expired ones, creates tickets from a JSON array and answers errors in
Halo's shapes (an OAuth ``{"error"}`` for the token, a message otherwise).
"""

import re
import secrets as _random
import time
import urllib.parse

from ..models import utcnow
from .psa import PsaDouble, Reply, _iso


class HaloDouble(PsaDouble):
    name = "halo"

    def __init__(
        self,
        client_id="halo-client",
        client_secret="halo-secret",
        tenant="msp",
        token_lifetime=3600,
    ):
        super().__init__()
        self.client_id = client_id
        self.client_secret = client_secret
        self.tenant = tenant
        self.token_lifetime = token_lifetime
        self.tokens = {}  # token -> expiry (monotonic)
        self.token_requests = 0
        self.priorities = {1: "Critical", 2: "High", 3: "Medium", 4: "Low"}
        self.statuses = {1: "New", 2: "In Progress", 3: "Responded", 9: "Closed"}
        self.ticket_types = {1: "Incident", 3: "Service Request"}
        self.add_company(12, "Unknown Client")

    def route(self, request):
        if request.path == "/auth/token":
            return self._token(request)
        self._authenticate(request)
        path = request.path
        if path == "/api/Tickets" and request.method == "POST":
            return self._tickets_post(request.json())
        if path == "/api/Tickets":
            search = request.query.get("search", "")
            rows = [
                self._render(t) for t in self.tickets.values() if search in t["summary"]
            ]
            return {"record_count": len(rows), "tickets": rows}
        match = re.fullmatch(r"/api/Tickets/(\d+)", path)
        if match:
            ticket = self.tickets.get(int(match.group(1)))
            if ticket is None:
                raise Reply(
                    404, {"ClassName": "HaloException", "Message": "Ticket not found"}
                )
            return self._render(ticket)
        if path == "/api/Actions" and request.method == "POST":
            return self._actions(request.json())
        if path == "/api/Priority":
            return [{"priorityid": i, "name": n} for i, n in self.priorities.items()]
        if path == "/api/Status":
            return [{"id": i, "name": n} for i, n in self.statuses.items()]
        if path == "/api/TicketType":
            return [{"id": i, "name": n} for i, n in self.ticket_types.items()]
        if path == "/api/Client":
            rows = [
                {"id": i, "name": c["name"], "inactive": not c["active"]}
                for i, c in sorted(self.companies.items())
            ]
            return {"record_count": len(rows), "clients": _page(rows, request)}
        if path == "/api/Users":
            rows = [
                {
                    "id": i,
                    "name": f"{c['first']} {c['last']}",
                    "client_id": c["company_id"],
                    "emailaddress": c["email"],
                    "phonenumber": (c["phones"] + [None])[0],
                    "mobilenumber": (c["phones"] + [None, None])[1],
                    "inactive": not c["active"],
                }
                for i, c in sorted(self.contacts.items())
            ]
            return {"record_count": len(rows), "users": _page(rows, request)}
        raise Reply(404, {"ClassName": "HaloException", "Message": "Not found"})

    def _token(self, request):
        form = {
            k: v[0] for k, v in urllib.parse.parse_qs(request.body.decode()).items()
        }
        if self.tenant and request.query.get("tenant") != self.tenant:
            raise Reply(
                400, {"error": "invalid_request", "error_description": "Unknown tenant"}
            )
        if form.get("grant_type") != "client_credentials":
            raise Reply(400, {"error": "unsupported_grant_type"})
        if (form.get("client_id"), form.get("client_secret")) != (
            self.client_id,
            self.client_secret,
        ):
            raise Reply(401, {"error": "invalid_client"})
        token = _random.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = time.monotonic() + self.token_lifetime
            self.token_requests += 1
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.token_lifetime,
            "scope": form.get("scope", "all"),
        }

    def _authenticate(self, request):
        header = request.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ")
        expiry = self.tokens.get(token)
        if (
            not header.startswith("Bearer ")
            or expiry is None
            or expiry < time.monotonic()
        ):
            raise Reply(401, None)

    def _tickets_post(self, body):
        if not isinstance(body, list) or not body:
            raise Reply(
                400,
                {
                    "ClassName": "HaloException",
                    "Message": "Expected a JSON array of tickets",
                },
            )
        results = []
        for item in body:
            if item.get("id"):
                ticket = self.tickets.get(int(item["id"]))
                if ticket is None:
                    raise Reply(
                        404,
                        {"ClassName": "HaloException", "Message": "Ticket not found"},
                    )
                if "priority_id" in item and item["priority_id"] not in self.priorities:
                    raise Reply(
                        400,
                        {
                            "ClassName": "HaloException",
                            "Message": "Invalid priority_id",
                        },
                    )
                ticket.update(item)
                results.append(self._render(ticket))
                continue
            results.append(self._create(item))
        return 201, results[0] if len(results) == 1 else results

    def _create(self, item):
        summary = item.get("summary") or ""
        if not summary:
            raise Reply(
                400, {"ClassName": "HaloException", "Message": "Please enter a Summary"}
            )
        if len(summary) > 255:
            raise Reply(
                400,
                {
                    "ClassName": "HaloException",
                    "Message": "Summary is too long (maximum 255)",
                },
            )
        if item.get("client_id") not in self.companies:
            raise Reply(
                400,
                {
                    "ClassName": "HaloException",
                    "Message": f"Client {item.get('client_id')} not found",
                },
            )
        if item.get("tickettype_id") not in self.ticket_types:
            raise Reply(
                400, {"ClassName": "HaloException", "Message": "Invalid tickettype_id"}
            )
        psa_id = self.new_id()
        with self.lock:
            self.tickets[psa_id] = dict(
                item, id=psa_id, created=utcnow(), responded_at=None
            )
            self.creates.append((summary.split(":", 1)[0], psa_id))
        return self._render(self.tickets[psa_id])

    def _actions(self, body):
        for item in body:
            if int(item.get("ticket_id", 0)) not in self.tickets:
                raise Reply(
                    400, {"ClassName": "HaloException", "Message": "Ticket not found"}
                )
            with self.lock:
                self.notes.append((int(item["ticket_id"]), item.get("note", "")))
        return 201, body[0]

    def _render(self, ticket):
        return {
            "id": ticket["id"],
            "summary": ticket["summary"],
            "client_id": ticket["client_id"],
            "priority_id": ticket["priority_id"],
            "status_id": ticket.get("status_id", 1),
            "dateoccurred": ticket.get("dateoccurred"),
            "responsedate": _iso(ticket["responded_at"]) or "1900-01-01T00:00:00",
        }


def _page(rows, request):
    if request.query.get("pageinate") != "true":
        return rows
    size = int(request.query.get("page_size", 50))
    page = int(request.query.get("page_no", 1))
    return rows[(page - 1) * size : page * size]
