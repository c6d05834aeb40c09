"""A ConnectWise PSA (Manage) double: ``/v4_6_release/apis/3.0`` on 127.0.0.1.

Checks Basic ``companyId+publicKey:privateKey`` and the ``clientId`` header;
answers validation errors as ConnectWise does, ``{"code": "InvalidObject",
"errors": [{"field", "message"}]}``.
"""

import base64
import datetime
import re

from ..models import utcnow
from .psa import PsaDouble, Reply, _iso

BASE = "/v4_6_release/apis/3.0"
_CONDITION = re.compile(r'^(\w+)\s*(=|>)\s*(?:"([^"]*)"|\[([^\]]*)\]|(\d+))$')


class ConnectWiseDouble(PsaDouble):
    name = "connectwise"

    def __init__(
        self,
        company_id="msp",
        public_key="pub",
        private_key="priv",
        client_id="client-1",
    ):
        super().__init__()
        self.login = f"{company_id}+{public_key}:{private_key}"
        self.client_id = client_id
        self.boards = {1: "Help Desk"}
        self.statuses = {1: "New", 2: "In Progress", 3: "Responded", 4: "Closed"}
        self.priorities = {
            1: "Priority 1 - Emergency",
            2: "Priority 2 - Quick",
            3: "Priority 3 - Normal",
            4: "Priority 4 - Low",
        }
        self.sources = {2: "Phone", 3: "Email"}
        self.add_company(250, "Catchall", "Catchall")
        self.page_size_cap = 1000

    def error_body(self, status):
        codes = {401: "Unauthorized", 404: "NotFound", 429: "TooManyRequests"}
        return {"code": codes.get(status, "Error"), "message": _phrase(status)}

    def route(self, request):
        self._authenticate(request)
        path = request.path
        if not path.startswith(BASE):
            raise Reply(404, self.error_body(404))
        path = path[len(BASE) :]
        match = re.fullmatch(r"/service/tickets/(\d+)(/notes)?", path)
        if path == "/service/tickets":
            if request.method == "POST":
                return self._create(request.json())
            return [self._render(t) for t in self._filter(self.tickets, request)]
        if match and match.group(2):
            return self._note(int(match.group(1)), request.json())
        if match:
            ticket = self._ticket(int(match.group(1)))
            if request.method == "PATCH":
                return self._patch(ticket, request.json())
            return self._render(ticket)
        return self._lists(path, request)

    def _authenticate(self, request):
        header = request.headers.get("Authorization", "")
        expected = "Basic " + base64.b64encode(self.login.encode()).decode()
        if header != expected or request.headers.get("clientId") != self.client_id:
            raise Reply(
                401,
                {
                    "code": "Unauthorized",
                    "message": "The API key or clientId is not valid",
                },
            )

    def _lists(self, path, request):
        if path == "/system/info":
            return {"version": "v2024.1", "isCloud": True}
        if path == "/service/boards":
            rows = [{"id": i, "name": n} for i, n in self.boards.items()]
            return _where(rows, request.query.get("conditions"))
        match = re.fullmatch(r"/service/boards/(\d+)/statuses", path)
        if match:
            return [{"id": i, "name": n} for i, n in self.statuses.items()]
        if path == "/service/priorities":
            return [{"id": i, "name": n} for i, n in self.priorities.items()]
        if path == "/service/sources":
            return [{"id": i, "name": n} for i, n in self.sources.items()]
        if path == "/company/companies":
            rows = [
                {
                    "id": i,
                    "identifier": c["identifier"],
                    "name": c["name"],
                    "deletedFlag": not c["active"],
                }
                for i, c in self.companies.items()
            ]
            return self._page(_where(rows, request.query.get("conditions")), request)
        if path == "/company/contacts":
            return self._page(self._contacts(request.query.get("conditions")), request)
        raise Reply(404, self.error_body(404))

    def _page(self, rows, request):
        size = min(int(request.query.get("pageSize", 25)), self.page_size_cap)
        page = int(request.query.get("page", 1))
        return rows[(page - 1) * size : page * size]

    def _contacts(self, conditions):
        since = None
        if conditions:
            field, _, _, stamp, _ = _CONDITION.match(conditions).groups()
            since = datetime.datetime.fromisoformat(stamp.rstrip("Z"))
        rows = []
        for i, c in sorted(self.contacts.items()):
            if since and c["updated"] <= since:
                continue
            items = [
                {"type": {"name": "Direct"}, "value": p, "communicationType": "Phone"}
                for p in c["phones"]
            ]
            if c["email"]:
                items.append(
                    {
                        "type": {"name": "Email"},
                        "value": c["email"],
                        "communicationType": "Email",
                    }
                )
            rows.append(
                {
                    "id": i,
                    "firstName": c["first"],
                    "lastName": c["last"],
                    "company": {"id": c["company_id"]},
                    "inactiveFlag": not c["active"],
                    "communicationItems": items,
                }
            )
        return rows

    def _create(self, body):
        errors = []
        summary = body.get("summary") or ""
        if not summary:
            errors.append(("summary", "Summary is required."))
        elif len(summary) > 100:
            errors.append(("summary", "Summary may not exceed 100 characters."))
        company = body.get("company") or {}
        company_id = self._company_id(company)
        if company_id is None:
            errors.append(("company", "Company not found."))
        board = _lookup(body.get("board"), self.boards)
        if board is None:
            errors.append(("board", "Board not found."))
        status = _lookup(body.get("status"), self.statuses)
        if status is None:
            errors.append(("status", "Status not found on this board."))
        priority = _lookup(body.get("priority"), self.priorities)
        if body.get("priority") and priority is None:
            errors.append(("priority", "Priority not found."))
        if len(body.get("externalXRef") or "") > 100:
            errors.append(
                ("externalXRef", "externalXRef may not exceed 100 characters.")
            )
        if errors:
            raise Reply(
                400,
                {
                    "code": "InvalidObject",
                    "message": "ticket object is invalid",
                    "errors": [
                        {
                            "code": "InvalidField",
                            "message": m,
                            "resource": "ticket",
                            "field": f,
                        }
                        for f, m in errors
                    ],
                },
            )
        psa_id = self.new_id()
        with self.lock:
            self.tickets[psa_id] = {
                "id": psa_id,
                "summary": summary,
                "company_id": company_id,
                "board_id": board,
                "status_id": status,
                "priority_id": priority,
                "externalXRef": body.get("externalXRef"),
                "initialDescription": body.get("initialDescription", ""),
                "contact": body.get("contact"),
                "source": body.get("source"),
                "entered": utcnow(),
                "responded_at": None,
                "patches": [],
            }
            self.creates.append((body.get("externalXRef"), psa_id))
        return 201, self._render(self.tickets[psa_id])

    def _company_id(self, company):
        if "id" in company:
            return company["id"] if company["id"] in self.companies else None
        for i, c in self.companies.items():
            if c["identifier"] == company.get("identifier"):
                return i
        return None

    def _ticket(self, psa_id):
        ticket = self.tickets.get(psa_id)
        if ticket is None:
            raise Reply(
                404, {"code": "NotFound", "message": f"Ticket recId {psa_id} not found"}
            )
        return ticket

    def _patch(self, ticket, operations):
        if not isinstance(operations, list):
            raise Reply(
                400,
                {"code": "InvalidObject", "message": "A JSON Patch array is required"},
            )
        for op in operations:
            if op.get("op") not in ("replace", "add", "remove"):
                raise Reply(
                    400,
                    {
                        "code": "InvalidObject",
                        "message": f"Unknown patch op {op.get('op')!r}",
                    },
                )
            if op["path"].strip("/") == "priority":
                priority = _lookup(op.get("value"), self.priorities)
                if priority is None:
                    raise Reply(
                        400,
                        {
                            "code": "InvalidObject",
                            "errors": [
                                {"field": "priority", "message": "Priority not found."}
                            ],
                        },
                    )
                ticket["priority_id"] = priority
            ticket["patches"].append(op)
        return self._render(ticket)

    def _note(self, psa_id, body):
        self._ticket(psa_id)
        if not body.get("text"):
            raise Reply(
                400,
                {
                    "code": "InvalidObject",
                    "errors": [{"field": "text", "message": "Text is required."}],
                },
            )
        with self.lock:
            self.notes.append((psa_id, body["text"]))
        return 201, {"id": len(self.notes), "ticketId": psa_id, "text": body["text"]}

    def _filter(self, tickets, request):
        conditions = request.query.get("conditions", "")
        match = re.fullmatch(r'externalXRef="([^"]*)"', conditions)
        rows = list(tickets.values())
        if match:
            rows = [t for t in rows if t["externalXRef"] == match.group(1)]
        return rows

    def _render(self, ticket):
        status = ticket["status_id"]
        if ticket["responded_at"] and status == 1:
            status = 3
        return {
            "id": ticket["id"],
            "summary": ticket["summary"],
            "company": {"id": ticket["company_id"]},
            "board": {
                "id": ticket["board_id"],
                "name": self.boards[ticket["board_id"]],
            },
            "status": {"id": status, "name": self.statuses[status]},
            "priority": {"id": ticket["priority_id"]},
            "externalXRef": ticket["externalXRef"],
            "dateEntered": _iso(ticket["entered"]),
            "dateResponded": _iso(ticket["responded_at"]),
        }


def _lookup(reference, table):
    if not isinstance(reference, dict):
        return None
    if "id" in reference:
        return reference["id"] if reference["id"] in table else None
    for key, name in table.items():
        if name == reference.get("name"):
            return key
    return None


def _where(rows, conditions):
    if not conditions:
        return rows
    field, _, text, _, number = _CONDITION.match(conditions).groups()
    wanted = int(number) if number else text
    return [row for row in rows if row.get(field) == wanted]


def _phrase(status):
    import http

    return http.HTTPStatus(status).phrase


def start_demo_psa(directory):
    """A running ConnectWise double and the ``load_config`` overrides for it.

    The demo passes the overrides to ``config.load_config(overrides=...)``; the
    secrets file is written to ``directory`` with mode 0600, as the service
    requires. Stop the double with ``double.stop()``.
    """
    import os

    double = ConnectWiseDouble().start()
    secrets = os.path.join(directory, "psa-secrets.conf")
    with open(secrets, "w", encoding="utf-8") as handle:
        handle.write("[connectwise]\npublic_key = pub\nprivate_key = priv\n")
        handle.write("client_id = client-1\n")
    os.chmod(secrets, 0o600)
    overrides = {
        "psa.type": "connectwise",
        "psa.url": double.url,
        "psa.secrets": secrets,
        "psa.company_id": "msp",
        "psa.board": "Help Desk",
        "psa.status": "New",
        "psa.responded_statuses": "Responded",
        "psa.priority_p1": "1",
        "psa.priority_p2": "2",
        "psa.priority_p3": "3",
        "psa.priority_p4": "4",
        "psa.unmatched_company": "Catchall",
        "psa.response_poll": "0",
        "psa.directory_interval": "0",
    }
    return double, overrides
