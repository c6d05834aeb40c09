"""An Autotask PSA REST double: ``/ATServicesRest/V1.0`` on 127.0.0.1.

Answers ``ZoneInformation?user=`` with its own URL, checks the
``ApiIntegrationCode``/``UserName``/``Secret`` headers, and answers errors as
Autotask does, ``{"errors": ["..."]}``.
"""

import datetime
import json
import re

from ..models import utcnow
from .psa import PsaDouble, Reply, _iso

BASE = "/ATServicesRest/V1.0"
PICKLISTS = {
    "priority": {1: "High", 2: "Medium", 3: "Low", 4: "Critical"},
    "status": {1: "New", 5: "Complete", 8: "In Progress", 12: "Waiting Customer"},
    "queueID": {29682833: "Client Portal", 29683354: "Level I Support"},
    "source": {2: "Phone", 4: "Email"},
    "ticketType": {1: "Service Request", 2: "Incident"},
}


class AutotaskDouble(PsaDouble):
    name = "autotask"

    def __init__(self, username="api@msp.example", secret="s3cret", code="INTCODE"):
        super().__init__()
        self.credentials = {
            "UserName": username,
            "Secret": secret,
            "ApiIntegrationCode": code,
        }
        self.add_company(0, "MSP Internal")
        self.page_size = 500

    def error_body(self, status):
        return {"errors": [_phrase(status)]}

    def route(self, request):
        path = request.path
        if not path.startswith(BASE):
            raise Reply(404, self.error_body(404))
        path = path[len(BASE) :]
        if path == "/ZoneInformation":
            if request.query.get("user") != self.credentials["UserName"]:
                raise Reply(
                    500,
                    {
                        "errors": [
                            "Zone information could not be determined for the user"
                        ]
                    },
                )
            return {
                "zoneName": "Double",
                "url": self.url + "/ATServicesRest/",
                "webUrl": self.url,
                "ci": 1,
            }
        for header, value in self.credentials.items():
            if request.headers.get(header) != value:
                raise Reply(401, None)
        if path == "/Tickets" and request.method == "POST":
            return self._create(request.json())
        if path == "/Tickets" and request.method == "PATCH":
            return self._patch(request.json())
        if path == "/Tickets/entityInformation/fields":
            return {
                "fields": [
                    {
                        "name": name,
                        "isPickList": True,
                        "picklistValues": [
                            {"value": str(v), "label": label, "isActive": True}
                            for v, label in values.items()
                        ],
                    }
                    for name, values in PICKLISTS.items()
                ]
            }
        match = re.fullmatch(r"/(Tickets|Companies|Contacts)/query", path)
        if match:
            return self._query(match.group(1), request)
        match = re.fullmatch(r"/Tickets/(\d+)/Notes", path)
        if match:
            return self._note(int(match.group(1)), request.json())
        match = re.fullmatch(r"/Tickets/(\d+)", path)
        if match:
            ticket = self.tickets.get(int(match.group(1)))
            return {"item": self._render(ticket) if ticket else None}
        match = re.fullmatch(r"/Companies/(\d+)", path)
        if match:
            company = self.companies.get(int(match.group(1)))
            return {
                "item": {"id": int(match.group(1)), "companyName": company["name"]}
                if company
                else None
            }
        raise Reply(404, self.error_body(404))

    def _create(self, body):
        errors = []
        for field in ("companyID", "title", "status", "priority", "queueID"):
            if body.get(field) in (None, ""):
                errors.append(f"Missing Required Field: {field}")
        if len(body.get("title") or "") > 255:
            errors.append("title: value exceeds the maximum length of 255")
        if len(body.get("description") or "") > 8000:
            errors.append("description: value exceeds the maximum length of 8000")
        if len(body.get("externalID") or "") > 50:
            errors.append("externalID: value exceeds the maximum length of 50")
        for field in ("status", "priority", "queueID", "source", "ticketType"):
            if body.get(field) is not None and body[field] not in PICKLISTS[field]:
                errors.append(f"Value {body[field]} is not a valid {field}")
        if (
            body.get("companyID") is not None
            and body["companyID"] not in self.companies
        ):
            errors.append(
                f"Reference value on field: companyID of type: Company "
                f"does not exist or is invalid: {body['companyID']}"
            )
        if errors:
            raise Reply(400, {"errors": errors})
        psa_id = self.new_id()
        with self.lock:
            self.tickets[psa_id] = dict(
                body, id=psa_id, created=utcnow(), responded_at=None, responded_by=None
            )
            self.creates.append((body.get("externalID"), psa_id))
        return {"itemId": psa_id}

    def _patch(self, body):
        ticket = self.tickets.get(body.get("id"))
        if ticket is None:
            raise Reply(404, {"errors": [f"Ticket {body.get('id')} not found"]})
        if "priority" in body and body["priority"] not in PICKLISTS["priority"]:
            raise Reply(
                400, {"errors": [f"Value {body['priority']} is not a valid priority"]}
            )
        ticket.update(body)
        return {"itemId": ticket["id"]}

    def _note(self, psa_id, body):
        if psa_id not in self.tickets:
            raise Reply(404, {"errors": [f"Ticket {psa_id} not found"]})
        for field in ("title", "description", "noteType", "publish"):
            if body.get(field) in (None, ""):
                raise Reply(400, {"errors": [f"Missing Required Field: {field}"]})
        with self.lock:
            self.notes.append((psa_id, body["description"]))
        return {"itemId": len(self.notes)}

    def _query(self, entity, request):
        search = json.loads(request.query.get("search") or "{}")
        rows = {
            "Tickets": lambda: [self._render(t) for t in self.tickets.values()],
            "Companies": self._companies,
            "Contacts": self._contacts,
        }[entity]()
        for condition in search.get("filter") or []:
            rows = [row for row in rows if _matches(row, condition)]
        start = int(request.query.get("offset", 0))
        page = rows[start : start + self.page_size]
        more = start + self.page_size < len(rows)
        next_url = None
        if more:
            query = json.dumps(search)
            next_url = (
                f"{self.url}{BASE}/{entity}/query?offset={start + self.page_size}"
                f"&search={_quote(query)}"
            )
        return {
            "items": page,
            "pageDetails": {
                "count": len(page),
                "requestCount": self.page_size,
                "prevPageUrl": None,
                "nextPageUrl": next_url,
            },
        }

    def _companies(self):
        return [
            {"id": i, "companyName": c["name"], "isActive": c["active"]}
            for i, c in sorted(self.companies.items())
        ]

    def _contacts(self):
        rows = []
        for i, c in sorted(self.contacts.items()):
            phones = c["phones"] + [None, None, None]
            rows.append(
                {
                    "id": i,
                    "companyID": c["company_id"],
                    "firstName": c["first"],
                    "lastName": c["last"],
                    "emailAddress": c["email"],
                    "phone": phones[0],
                    "mobilePhone": phones[1],
                    "alternatePhone": phones[2],
                    "isActive": 1 if c["active"] else 0,
                    "lastModifiedDate": _iso(c["updated"]),
                }
            )
        return rows

    def _render(self, ticket):
        status = ticket["status"]
        return {
            "id": ticket["id"],
            "title": ticket["title"],
            "externalID": ticket.get("externalID"),
            "status": status,
            "priority": ticket["priority"],
            "companyID": ticket["companyID"],
            "firstResponseDateTime": _iso(ticket["responded_at"]),
            "firstResponseInitiatingResourceID": 29682885
            if ticket["responded_at"]
            else None,
        }


def _matches(row, condition):
    op, field, value = (
        condition.get("op"),
        condition.get("field"),
        condition.get("value"),
    )
    if op == "exist":
        return row.get(field) is not None
    if op == "eq":
        return str(row.get(field)) == str(value)
    if op == "gt":
        have = row.get(field)
        if have is None:
            return False
        return _when(have) > _when(value)
    raise Reply(400, {"errors": [f"Unsupported operator {op}"]})


def _when(text):
    return datetime.datetime.fromisoformat(str(text).rstrip("Z"))


def _quote(text):
    import urllib.parse

    return urllib.parse.quote(text)


def _phrase(status):
    import http

    return http.HTTPStatus(status).phrase
