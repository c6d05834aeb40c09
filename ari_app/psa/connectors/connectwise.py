"""ConnectWise PSA (Manage) REST: service tickets, notes, and the company directory.

Auth is Basic ``companyId+publicKey:privateKey`` plus the ``clientId`` header of
the integration. Our reference goes in ``externalXRef``, which ``find`` queries
with ``conditions`` before a create is ever repeated. Updates are JSON Patch;
triage answers and transcripts are internal-analysis notes, which neither email
the client nor count as a response.
"""

import base64

from ... import config as cfg
from ..reference import external_reference
from .base import (
    CompanyRecord,
    Connector,
    ContactRecord,
    Directory,
    ResponseState,
    answer_id,
    description,
    iso,
    parse_time,
    picklist_problem,
    ref,
    summary,
)

API_PATH = "/v4_6_release/apis/3.0"
PAGE_SIZE = 1000


class ConnectWiseConnector(Connector):
    TYPE = "connectwise"
    KEYS = ("company_id", "board", "source")
    SECRET_KEYS = ("public_key", "private_key", "client_id")
    SUMMARY_MAX = 100

    @classmethod
    def read_options(cls, parser):
        return {
            "company_id": cfg.get(parser, "psa", "company_id", required=True),
            "board": cfg.get(parser, "psa", "board", required=True),
            "source": cfg.get(parser, "psa", "source", "Phone"),
        }

    def api_base(self):
        url = self.settings.url
        return url if "/apis/3.0" in url else url + API_PATH

    def add_auth(self, headers):
        login = f"{self.options['company_id']}+{self.secret('public_key')}"
        token = base64.b64encode(f"{login}:{self.secret('private_key')}".encode())
        headers["Authorization"] = "Basic " + token.decode("ascii")
        headers["clientId"] = self.secret("client_id")

    def find(self, ticket):
        reference = external_reference(ticket)
        params = {"conditions": f'externalXRef="{reference}"', "fields": "id"}
        found = self.http.request(
            "GET", "/service/tickets", params=params, ticket=ticket.id
        )
        return str(found[0]["id"]) if found else None

    def create(self, ticket, delivery):
        body = {
            "summary": summary(ticket, self.SUMMARY_MAX),
            "board": ref(self.options["board"]),
            "company": self._company(ticket),
            "status": ref(self.settings.status),
            "priority": ref(self.priority_value(ticket)),
            "source": ref(self.options["source"]),
            "initialDescription": description(ticket),
            "externalXRef": external_reference(ticket),
        }
        contact = self.contact_value(ticket)
        if contact:
            body["contact"] = {"id": int(contact)}
        created = self.http.request(
            "POST", "/service/tickets", json=body, ticket=ticket.id
        )
        return answer_id(created, "id", "POST /service/tickets")

    def _company(self, ticket):
        value = self.company_value(ticket)
        return {"id": int(value)} if value.isdigit() else {"identifier": value}

    def set_priority(self, psa_id, ticket, priority):
        value = ref(self.settings.priorities[priority])
        patch = [{"op": "replace", "path": "priority", "value": value}]
        self.http.request(
            "PATCH", f"/service/tickets/{psa_id}", json=patch, ticket=ticket.id
        )

    def add_note(self, psa_id, ticket, text):
        note = {"text": text, "internalAnalysisFlag": True}
        self.http.request(
            "POST", f"/service/tickets/{psa_id}/notes", json=note, ticket=ticket.id
        )

    def first_response(self, psa_id):
        params = {"fields": "id,status,dateResponded"}
        found = self.http.request("GET", f"/service/tickets/{psa_id}", params=params)
        status = found.get("status") or {}
        return ResponseState(
            responded_at=parse_time(found.get("dateResponded")),
            status=_status_value(status, self.settings.responded_statuses),
        )

    def directory(self, since):
        companies = [
            CompanyRecord(str(row["id"]), row["name"], not row.get("deletedFlag"))
            for row in self._pages("/company/companies", None, "id,name,deletedFlag")
        ]
        condition = f"lastUpdated>[{iso(since)}]" if since else None
        contacts = [
            _contact(row) for row in self._pages("/company/contacts", condition)
        ]
        return Directory(companies, [c for c in contacts if c], complete=since is None)

    def _pages(self, path, conditions, fields=None):
        page = 1
        while True:
            params = {"page": page, "pageSize": PAGE_SIZE}
            if conditions:
                params["conditions"] = conditions
            if fields:
                params["fields"] = fields
            rows = self.http.request("GET", path, params=params)
            yield from rows
            if len(rows) < PAGE_SIZE:
                return
            page += 1

    def check(self):
        problems = []
        self.http.request("GET", "/system/info")  # raises PsaAuthError on bad keys
        board = self._board()
        if board is None:
            return [f"[psa] board = {self.options['board']}: no such service board"]
        statuses = self.http.request("GET", f"/service/boards/{board['id']}/statuses")
        problems.append(_named("[psa] status", self.settings.status, statuses))
        for name in self.settings.responded_statuses:
            problems.append(_named("[psa] responded_statuses", name, statuses))
        priorities = self.http.request("GET", "/service/priorities")
        for key, value in self.settings.priorities.items():
            problems.append(_named(f"[psa] priority_{key.lower()}", value, priorities))
        sources = self.http.request("GET", "/service/sources")
        problems.append(_named("[psa] source", self.options["source"], sources))
        if not self._company_exists(self.settings.unmatched_company):
            problems.append(
                f"[psa] unmatched_company = {self.settings.unmatched_company}: "
                "no such company"
            )
        return [problem for problem in problems if problem]

    def _board(self):
        value = self.options["board"]
        condition = f"id={value}" if value.isdigit() else f'name="{value}"'
        boards = self.http.request(
            "GET", "/service/boards", params={"conditions": condition}
        )
        return boards[0] if boards else None

    def _company_exists(self, value):
        condition = f"id={value}" if value.isdigit() else f'identifier="{value}"'
        found = self.http.request(
            "GET", "/company/companies", params={"conditions": condition}
        )
        return bool(found)


def _status_value(status, responded):
    # The config may name a responded status by id or by name; answer in kind.
    if str(status.get("id")) in responded:
        return str(status.get("id"))
    return status.get("name")


def _named(setting, value, rows):
    known = {str(row.get("id")) for row in rows} | {row.get("name", "") for row in rows}
    names = {row.get("name", "") for row in rows}
    problem = picklist_problem(setting, value, known)
    if problem:
        listed = ", ".join(sorted(names)[:12]) or "none"
        return f"{setting} = {value}: not known to the PSA (it has: {listed})"
    return None


def _contact(row):
    company = row.get("company") or {}
    if not company.get("id"):
        return None
    phones = tuple(
        item["value"]
        for item in row.get("communicationItems") or []
        if item.get("communicationType") == "Phone" and item.get("value")
    )
    emails = [
        item["value"]
        for item in row.get("communicationItems") or []
        if item.get("communicationType") == "Email" and item.get("value")
    ]
    name = " ".join(p for p in (row.get("firstName"), row.get("lastName")) if p)
    return ContactRecord(
        external_id=str(row["id"]),
        company_external_id=str(company["id"]),
        name=name or f"contact {row['id']}",
        phones=phones,
        email=emails[0] if emails else None,
        active=not row.get("inactiveFlag"),
    )
