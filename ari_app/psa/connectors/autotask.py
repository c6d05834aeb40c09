"""Autotask (Datto) PSA REST: Tickets, TicketNotes, Companies and Contacts.

Each tenant lives in one zone; ``ZoneInformation?user=`` tells which, once per
connector. Auth is three headers (``ApiIntegrationCode``, ``UserName``,
``Secret``). Our reference goes in ``externalID``, which ``find`` queries
before a create is ever repeated. Priority, status, queue and source are
picklist integers that differ per tenant: they come from the config, and
``sync test`` checks them against the tenant's field definitions.
"""

import json

from ... import config as cfg
from ...exceptions import ConfigError
from ..exceptions import PsaUnavailable
from ..reference import external_reference
from .base import (
    NUMERIC_SETTINGS,
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
    summary,
)

DESCRIPTION_MAX = 8000


class AutotaskConnector(Connector):
    TYPE = "autotask"
    KEYS = ("queue", "source", "ticket_type", "note_type", "note_publish")
    SECRET_KEYS = ("username", "secret", "integration_code")
    DEFAULT_URL = "https://webservices.autotask.net/ATServicesRest"
    SUMMARY_MAX = 255

    def __init__(self, settings):
        super().__init__(settings)
        self._zone = None

    @classmethod
    def read_options(cls, parser):
        options = {"queue": cfg.get(parser, "psa", "queue", required=True)}
        for key, default in (
            ("source", ""),
            ("ticket_type", ""),
            ("note_type", "1"),
            ("note_publish", "1"),
        ):
            options[key] = cfg.get(parser, "psa", key, default)
        options["unmatched_company"] = cfg.get(parser, "psa", "unmatched_company", "")
        # Status and priorities are picklist numbers too; checked here, not kept.
        picked = dict(options)
        for key in NUMERIC_SETTINGS:
            picked[key] = cfg.get(parser, "psa", key, "")
        for key, value in picked.items():
            if value and not value.isdigit():
                raise ConfigError(f"[psa] {key}", f"{value!r} is not a picklist number")
        return options

    def add_auth(self, headers):
        headers["ApiIntegrationCode"] = self.secret("integration_code")
        headers["UserName"] = self.secret("username")
        headers["Secret"] = self.secret("secret")

    def _base(self):
        """The tenant's zone URL, asked once (the lookup itself is unauthenticated
        apart from the user name, but sending the headers does no harm)."""
        if self._zone is None:
            found = self.http.request(
                "GET",
                "/V1.0/ZoneInformation",
                params={"user": self.secret("username")},
            )
            url = found.get("url") if isinstance(found, dict) else None
            if not url:
                raise PsaUnavailable("GET /V1.0/ZoneInformation: the answer has no url")
            self._zone = url.rstrip("/") + "/V1.0"
        return self._zone

    def _query(self, entity, filters, ticket=None):
        url = f"{self._base()}/{entity}/query"
        params = {"search": json.dumps({"filter": filters})}
        while url:
            page = self.http.request("GET", url, params=params, ticket=ticket)
            yield from page.get("items") or []
            url = (page.get("pageDetails") or {}).get("nextPageUrl")
            params = None  # the next-page URL carries the query

    def find(self, ticket):
        filters = [
            {"op": "eq", "field": "externalID", "value": external_reference(ticket)}
        ]
        for item in self._query("Tickets", filters, ticket.id):
            return str(item["id"])
        return None

    def create(self, ticket, delivery):
        body = {
            "companyID": int(self.company_value(ticket)),
            "title": summary(ticket, self.SUMMARY_MAX),
            "description": description(ticket)[:DESCRIPTION_MAX],
            "status": int(self.settings.status),
            "priority": int(self.priority_value(ticket)),
            "queueID": int(self.options["queue"]),
            "externalID": external_reference(ticket),
        }
        for option, field in (("source", "source"), ("ticket_type", "ticketType")):
            if self.options[option]:
                body[field] = int(self.options[option])
        contact = self.contact_value(ticket)
        if contact:
            body["contactID"] = int(contact)
        created = self.http.request(
            "POST", f"{self._base()}/Tickets", json=body, ticket=ticket.id
        )
        return answer_id(created, "itemId", "POST /Tickets")

    def set_priority(self, psa_id, ticket, priority):
        body = {"id": int(psa_id), "priority": int(self.settings.priorities[priority])}
        self.http.request(
            "PATCH", f"{self._base()}/Tickets", json=body, ticket=ticket.id
        )

    def add_note(self, psa_id, ticket, text):
        note = {
            "ticketID": int(psa_id),
            "title": f"{ticket.reference} from the phone intake",
            "description": text[:DESCRIPTION_MAX],
            "noteType": int(self.options["note_type"]),
            "publish": int(self.options["note_publish"]),
        }
        self.http.request(
            "POST",
            f"{self._base()}/Tickets/{psa_id}/Notes",
            json=note,
            ticket=ticket.id,
        )

    def first_response(self, psa_id):
        found = self.http.request("GET", f"{self._base()}/Tickets/{psa_id}")
        item = found.get("item") or {}
        by = item.get("firstResponseInitiatingResourceID")
        return ResponseState(
            responded_at=parse_time(item.get("firstResponseDateTime")),
            status=str(item.get("status")),
            by=f"resource {by}" if by else None,
        )

    def directory(self, since):
        every = [{"op": "exist", "field": "id"}]
        companies = [
            CompanyRecord(str(row["id"]), row["companyName"], bool(row.get("isActive")))
            for row in self._query("Companies", every)
        ]
        contact_filter = (
            [{"op": "gt", "field": "lastModifiedDate", "value": iso(since)}]
            if since
            else every
        )
        contacts = [_contact(row) for row in self._query("Contacts", contact_filter)]
        return Directory(companies, contacts, complete=since is None)

    def check(self):
        found = self.http.request(
            "GET", f"{self._base()}/Tickets/entityInformation/fields"
        )
        fields = {field["name"]: field for field in found.get("fields") or []}
        wanted = [("[psa] status", "status", self.settings.status)]
        wanted += [
            ("[psa] responded_statuses", "status", s)
            for s in self.settings.responded_statuses
        ]
        wanted += [
            (f"[psa] priority_{key.lower()}", "priority", value)
            for key, value in self.settings.priorities.items()
        ]
        wanted.append(("[psa] queue", "queueID", self.options["queue"]))
        if self.options["source"]:
            wanted.append(("[psa] source", "source", self.options["source"]))
        if self.options["ticket_type"]:
            wanted.append(
                ("[psa] ticket_type", "ticketType", self.options["ticket_type"])
            )
        problems = []
        for setting, field, value in wanted:
            values = (fields.get(field) or {}).get("picklistValues") or []
            known = {
                str(v["value"]): v.get("label", "")
                for v in values
                if v.get("isActive", True)
            }
            problem = picklist_problem(setting, value, known)
            if problem:
                listed = ", ".join(f"{k} ({v})" for k, v in sorted(known.items())[:12])
                problems.append(
                    f"{setting} = {value}: not an active {field} value "
                    f"(the tenant has: {listed or 'none'})"
                )
        company = self.settings.unmatched_company
        found = self.http.request("GET", f"{self._base()}/Companies/{company}")
        if not found.get("item"):
            problems.append(f"[psa] unmatched_company = {company}: no such company")
        return problems


def _contact(row):
    phones = tuple(
        row[key] for key in ("phone", "mobilePhone", "alternatePhone") if row.get(key)
    )
    name = " ".join(p for p in (row.get("firstName"), row.get("lastName")) if p)
    return ContactRecord(
        external_id=str(row["id"]),
        company_external_id=str(row["companyID"]),
        name=name or f"contact {row['id']}",
        phones=phones,
        email=row.get("emailAddress") or None,
        active=bool(row.get("isActive")),
    )
