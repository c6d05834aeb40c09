"""HaloPSA REST: Tickets, Actions (notes), Clients and Users.

Auth is OAuth2 client credentials against ``/auth/token`` (``?tenant=`` for a
hosted instance); the token is cached until shortly before it expires and
fetched again after a 401. Tickets are created by POSTing a JSON array. Halo
has no field for another system's ticket reference that every instance has,
so the reference leads the summary (``MSP-12: ...``) and ``find`` searches for
it and keeps only an exact prefix match. ``dateoccurred`` carries the PBX's
contact time.
"""

import html
import time

from ... import config as cfg
from ...exceptions import ConfigError
from ..exceptions import PsaAuthError, PsaUnavailable
from ..http import PsaHttp
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

PAGE_SIZE = 100
# Fetch a new token this long before the old one expires.
TOKEN_MARGIN = 60.0


class HaloConnector(Connector):
    TYPE = "halo"
    KEYS = ("tenant", "auth_url", "ticket_type", "unmatched_user")
    SECRET_KEYS = ("client_id", "client_secret")
    SUMMARY_MAX = 255

    def __init__(self, settings):
        super().__init__(settings)
        auth_url = self.options["auth_url"] or settings.url + "/auth"
        # The token endpoint gets its own session: it must not carry the bearer.
        self.auth_http = PsaHttp(
            "halo", auth_url, timeout=settings.timeout, verify=settings.verify
        )
        self._token = None
        self._token_expires = 0.0

    @classmethod
    def read_options(cls, parser):
        options = {
            "tenant": cfg.get(parser, "psa", "tenant", ""),
            "auth_url": cfg.get(parser, "psa", "auth_url", "").rstrip("/"),
            "ticket_type": cfg.get(parser, "psa", "ticket_type", required=True),
            "unmatched_user": cfg.get(parser, "psa", "unmatched_user", ""),
        }
        for key in ("ticket_type", "unmatched_user"):
            if options[key] and not options[key].isdigit():
                raise ConfigError(f"[psa] {key}", f"{options[key]!r} is not an id")
        # Halo takes these as ids only; a name would fail every create.
        for key in NUMERIC_SETTINGS:
            _id_setting(parser, key)
        company = cfg.get(parser, "psa", "unmatched_company", "")
        if company and not company.isdigit():
            raise ConfigError(
                "[psa] unmatched_company", f"{company!r} is not a client id"
            )
        return options

    def api_base(self):
        return self.settings.url + "/api"

    def close(self):
        super().close()
        self.auth_http.close()

    def add_auth(self, headers):
        headers["Authorization"] = "Bearer " + self._access_token()

    def _access_token(self):
        if self._token and time.monotonic() < self._token_expires - TOKEN_MARGIN:
            return self._token
        params = {"tenant": self.options["tenant"]} if self.options["tenant"] else None
        form = {
            "grant_type": "client_credentials",
            "client_id": self.secret("client_id"),
            "client_secret": self.secret("client_secret"),
            "scope": "all",
        }
        found = self.auth_http.request("POST", "/token", params=params, data=form)
        token = found.get("access_token") if isinstance(found, dict) else None
        if not token:
            raise PsaUnavailable("POST /token: the answer has no access_token")
        try:
            lifetime = float(found.get("expires_in", 3600))
        except (TypeError, ValueError):
            lifetime = 3600.0
        self._token = token
        self._token_expires = time.monotonic() + lifetime
        return self._token

    def _call(self, method, path, **kwargs):
        """A request that fetches a new token once if Halo says ours is stale."""
        try:
            return self.http.request(method, path, **kwargs)
        except PsaAuthError:
            self._token = None
            return self.http.request(method, path, **kwargs)

    def find(self, ticket):
        reference = external_reference(ticket)
        params = {"search": reference, "pageinate": "false", "count": 50}
        found = self._call("GET", "/Tickets", params=params, ticket=ticket.id)
        prefix = f"{reference}:"
        for row in found.get("tickets") or []:
            if (row.get("summary") or "").startswith(prefix):
                return str(row["id"])
        return None

    def create(self, ticket, delivery):
        body = {
            "summary": summary(ticket, self.SUMMARY_MAX, external_reference(ticket)),
            "details": html.escape(description(ticket)).replace("\n", "<br>"),
            "client_id": int(self.company_value(ticket)),
            "priority_id": int(self.priority_value(ticket)),
            "tickettype_id": int(self.options["ticket_type"]),
            "status_id": int(self.settings.status),
            "dateoccurred": iso(ticket.contact_at),
        }
        user = self.contact_value(ticket) or self.options["unmatched_user"]
        if user:
            body["user_id"] = int(user)
        created = self._call("POST", "/Tickets", json=[body], ticket=ticket.id)
        if isinstance(created, list) and created:
            created = created[0]
        return answer_id(created, "id", "POST /Tickets")

    def set_priority(self, psa_id, ticket, priority):
        body = {
            "id": int(psa_id),
            "priority_id": int(self.settings.priorities[priority]),
        }
        self._call("POST", "/Tickets", json=[body], ticket=ticket.id)

    def add_note(self, psa_id, ticket, text):
        action = {
            "ticket_id": int(psa_id),
            "outcome": "Private Note",
            "note": html.escape(text).replace("\n", "<br>"),
            "hiddenfromuser": True,
        }
        self._call("POST", "/Actions", json=[action], ticket=ticket.id)

    def first_response(self, psa_id):
        found = self._call("GET", f"/Tickets/{psa_id}")
        return ResponseState(
            responded_at=parse_time(found.get("responsedate")),
            status=str(found.get("status_id")),
        )

    def directory(self, since):
        # Halo lists have no "changed since" filter: always a full pass, which also
        # tells which contacts were deleted.
        companies = [
            CompanyRecord(str(row["id"]), row["name"], not row.get("inactive"))
            for row in self._pages("/Client", "clients")
        ]
        contacts = [_contact(row) for row in self._pages("/Users", "users")]
        return Directory(companies, [c for c in contacts if c], complete=True)

    def _pages(self, path, key):
        page = 1
        while True:
            params = {
                "pageinate": "true",
                "page_size": PAGE_SIZE,
                "page_no": page,
                "includeinactive": "true",
            }
            found = self._call("GET", path, params=params)
            rows = found.get(key) or []
            yield from rows
            if len(rows) < PAGE_SIZE:
                return
            page += 1

    def check(self):
        problems = []
        priorities = self._call("GET", "/Priority")
        known = {str(row.get("priorityid", row.get("id"))): row for row in priorities}
        for key, value in self.settings.priorities.items():
            problems.append(
                picklist_problem(f"[psa] priority_{key.lower()}", value, known)
            )
        statuses = {str(row["id"]): row for row in self._call("GET", "/Status")}
        problems.append(
            picklist_problem("[psa] status", self.settings.status, statuses)
        )
        for value in self.settings.responded_statuses:
            problems.append(
                picklist_problem("[psa] responded_statuses", value, statuses)
            )
        types = {str(row["id"]): row for row in self._call("GET", "/TicketType")}
        problems.append(
            picklist_problem("[psa] ticket_type", self.options["ticket_type"], types)
        )
        client = self._call("GET", "/Client", params={"search": "", "count": 1000})
        clients = {str(row["id"]) for row in client.get("clients") or []}
        problems.append(
            picklist_problem(
                "[psa] unmatched_company", self.settings.unmatched_company, clients
            )
        )
        return [problem for problem in problems if problem]


def _id_setting(parser, key):
    value = cfg.get(parser, "psa", key, "")
    if value and not value.isdigit():
        raise ConfigError(f"[psa] {key}", f"{value!r} is not an id")


def _contact(row):
    if not row.get("client_id"):
        return None
    phones = tuple(
        row[key]
        for key in ("phonenumber", "mobilenumber", "phonenumber2")
        if row.get(key)
    )
    return ContactRecord(
        external_id=str(row["id"]),
        company_external_id=str(row["client_id"]),
        name=row.get("name") or f"user {row['id']}",
        phones=phones,
        email=row.get("emailaddress") or None,
        active=not row.get("inactive"),
    )
