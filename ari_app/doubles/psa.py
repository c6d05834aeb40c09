"""PSA test doubles: loopback HTTP servers that answer like each PSA's API.

``ConnectWiseDouble``, ``AutotaskDouble``, ``HaloDouble`` and ``WebhookDouble``
serve the calls msp-intake makes, on 127.0.0.1, each in its own thread. They
check credentials the way the PSA does, required fields and field lengths, and
answer errors in the PSA's own body shape. Faults are scripted per request:
``fail(status)`` (with ``retry_after`` for a 429), ``hang(seconds)`` (past the
client's timeout, then does the work: a slow commit), ``commit_then_drop()``
(the ticket is created, then the connection closes before the answer),
``answer(status, body)`` (an odd body, as from a proxy or maintenance page,
without doing the work) and ``down`` (every connection dropped).
The demo runs one so that the board shows PSA ticket numbers.
"""

import dataclasses
import http.server
import json
import socket
import threading
import time
import urllib.parse

from ..models import utcnow


@dataclasses.dataclass
class Fault:
    kind: str  # "status", "hang", "drop", "commit_then_drop", "answer"
    status: int = 500
    retry_after: str | None = None
    seconds: float = 0.0
    method: str | None = None  # only requests with this method (None: any)
    path: str | None = None  # only paths starting with this
    body: object = None  # what an "answer" fault replies


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        # Headers and body are separate writes; without this, Nagle's algorithm
        # and the client's delayed ACK add 40 ms to every answer.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format, *args):  # the double stays quiet
        pass

    def _serve(self):
        self.server.double.handle(self)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve


class Reply(Exception):
    """Raised by a route to answer with ``status`` and a JSON ``body``."""

    def __init__(self, status, body=None, headers=None):
        self.status = status
        self.body = body
        self.headers = headers or {}


class PsaDouble:
    """The loop, the fault script and the request log every double shares."""

    name = "psa"

    def __init__(self):
        self.lock = threading.RLock()
        self.faults = []
        self.requests = []  # (method, path, monotonic time)
        self.down = False
        self.tickets = {}  # PSA id -> dict
        self.notes = []  # (PSA ticket id, text)
        self.creates = []  # (our reference, PSA id): duplicates show here
        self.companies = {}  # id -> {"name", "identifier", "active"}
        self.contacts = {}  # id -> dict (see add_contact)
        self._next_id = 1000
        self._server = None
        self._thread = None

    # Lifecycle.

    def start(self):
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._server.double = self
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"{self.name}-double", daemon=True
        )
        self._thread.start()
        return self

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def url(self):
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # The fault script.

    def fail(self, status, times=1, retry_after=None, method=None, path=None):
        for _ in range(times):
            self.faults.append(Fault("status", status, retry_after, 0, method, path))

    def hang(self, seconds, times=1, method=None, path=None):
        for _ in range(times):
            self.faults.append(Fault("hang", seconds=seconds, method=method, path=path))

    def commit_then_hang(self, seconds, method="POST", path=None):
        """Commit the request's work, then never answer (until ``seconds``)."""
        self.faults.append(
            Fault("commit_then_hang", seconds=seconds, method=method, path=path)
        )

    def answer(self, status, body, times=1, method=None, path=None):
        """Reply ``status`` with ``body`` instead of doing the request's work."""
        for _ in range(times):
            self.faults.append(
                Fault("answer", status, method=method, path=path, body=body)
            )

    def commit_then_drop(self, times=1, method="POST", path=None):
        for _ in range(times):
            self.faults.append(Fault("commit_then_drop", method=method, path=path))

    def _take_fault(self, method, path):
        with self.lock:
            for fault in self.faults:
                if fault.method and fault.method != method:
                    continue
                if fault.path and not path.startswith(fault.path):
                    continue
                self.faults.remove(fault)
                return fault
        return None

    # Directory data.

    def add_company(self, company_id, name, identifier=None, active=True):
        self.companies[int(company_id)] = {
            "name": name,
            "identifier": identifier or name.replace(" ", ""),
            "active": active,
        }

    def add_contact(
        self, contact_id, company_id, first, last, phones=(), email=None, active=True
    ):
        self.contacts[int(contact_id)] = {
            "company_id": int(company_id),
            "first": first,
            "last": last,
            "phones": list(phones),
            "email": email,
            "active": active,
            "updated": utcnow(),
        }

    def respond(self, psa_id, at=None, by="tech"):
        """A tech responds in the PSA: what first-response read-back looks for."""
        with self.lock:
            ticket = self.tickets[int(psa_id)]
            ticket["responded_at"] = at or utcnow()
            ticket["responded_by"] = by

    def duplicates(self):
        """How many of our references reached the PSA more than once."""
        counts = {}
        for reference, _ in self.creates:
            counts[reference] = counts.get(reference, 0) + 1
        return sum(count - 1 for count in counts.values())

    def new_id(self):
        with self.lock:
            self._next_id += 1
            return self._next_id

    # One request.

    def handle(self, handler):
        method = handler.command
        raw_path = handler.path
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        with self.lock:
            self.requests.append((method, raw_path, time.monotonic()))
        if self.down:
            return _drop(handler)
        fault = self._take_fault(method, raw_path)
        if fault is not None and fault.kind == "hang":
            time.sleep(fault.seconds)
        if fault is not None and fault.kind == "drop":
            return _drop(handler)
        if fault is not None and fault.kind == "answer":
            return _send(handler, fault.status, fault.body)
        if fault is not None and fault.kind == "status":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after else {}
            return _send(handler, fault.status, self.error_body(fault.status), headers)
        parts = urllib.parse.urlsplit(raw_path)
        query = {k: v[0] for k, v in urllib.parse.parse_qs(parts.query).items()}
        request = Request(method, parts.path, query, handler.headers, body)
        try:
            status, answer, headers = 200, self.route(request), {}
        except Reply as reply:
            status, answer, headers = reply.status, reply.body, reply.headers
        if fault is not None and fault.kind == "commit_then_hang":
            time.sleep(fault.seconds)
            return _drop(handler)
        if fault is not None and fault.kind == "commit_then_drop":
            return _drop(handler)  # the work above is committed; the answer is lost
        if isinstance(answer, tuple):
            status, answer = answer
        return _send(handler, status, answer, headers)

    def route(self, request):
        raise Reply(404, self.error_body(404))

    def error_body(self, status):
        return {"message": http.HTTPStatus(status).phrase}


@dataclasses.dataclass
class Request:
    method: str
    path: str
    query: dict
    headers: object
    body: bytes

    def json(self):
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            raise Reply(
                400, {"message": "The request body is not valid JSON"}
            ) from None


def _send(handler, status, body, headers=None):
    data = b"" if body is None else json.dumps(body, default=str).encode("utf-8")
    handler.send_response(status)
    handler.send_header("Content-Type", "application/json; charset=utf-8")
    handler.send_header("Content-Length", str(len(data)))
    for key, value in (headers or {}).items():
        handler.send_header(key, value)
    handler.end_headers()
    handler.wfile.write(data)


def _drop(handler):
    handler.close_connection = True
    handler.connection.shutdown(2)


def _iso(value):
    return value.strftime("%Y-%m-%dT%H:%M:%SZ") if value else None
