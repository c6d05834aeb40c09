"""HTTP to a PSA: one ``requests`` session, one log line per request.

Every connector talks through ``PsaHttp``. This is the one module that knows
``requests``: its exceptions and the PSA's error statuses become the errors in
``ari_app.psa.exceptions`` here and nowhere else. No header is ever logged, and
retries are not done here: they belong to the outbox, which survives restarts
(``urllib3``'s own retry would resend a create without looking it up first).
"""

import email.utils
import json
import logging
import time

import requests
import urllib3

from .exceptions import (
    PsaAuthError,
    PsaRejected,
    PsaThrottled,
    PsaTimeout,
    PsaUnavailable,
)

logger = logging.getLogger(__name__)

# The statuses a retry can fix: the PSA is busy, restarting or behind a proxy.
_RETRYABLE = {408, 425, 500, 502, 503, 504}
_MAX_ERROR_TEXT = 300


class PsaHttp:
    """A session bound to one PSA base URL, with its auth and TLS settings."""

    def __init__(self, name, base_url, *, timeout, verify=True, auth=None):
        self.name = name
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()
        self.verify = verify
        self.session.headers["Accept"] = "application/json"
        self.session.headers["User-Agent"] = "msp-intake"
        self.auth = auth  # callable(session_headers) adding auth, or None

    def close(self):
        self.session.close()

    def request(self, method, path, *, ticket=None, expect_json=True, **kwargs):
        """Send one request; return the decoded JSON body (or None when empty)."""
        url = path if path.startswith("http") else self.base_url + path
        headers = dict(kwargs.pop("headers", None) or {})
        if self.auth is not None:
            self.auth(headers)
        started = time.monotonic()
        try:
            # verify is passed on every request: set only on the session, it is
            # replaced by REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE from the environment,
            # and the config's verify_tls / ca_bundle would be silently ignored.
            response = self.session.request(
                method,
                url,
                headers=headers,
                timeout=self.timeout,
                verify=self.verify,
                **kwargs,
            )
        except requests.ConnectTimeout as exc:
            # No connection, so nothing was sent: plainly unavailable.
            self._log(method, path, ticket, "connect timeout", started)
            raise PsaUnavailable(f"{method} {path}: no connection") from exc
        except requests.Timeout as exc:
            self._log(method, path, ticket, "timeout", started)
            raise PsaTimeout(
                f"{method} {path}: no answer in {self.timeout:g} s"
            ) from exc
        except requests.ConnectionError as exc:
            self._log(method, path, ticket, "connection failed", started)
            if _never_connected(exc):
                raise PsaUnavailable(f"{method} {path}: {_reason(exc)}") from exc
            # A dropped connection after the request was written is as ambiguous as a
            # timeout: the PSA may have committed the ticket.
            raise PsaTimeout(f"{method} {path}: {_reason(exc)}") from exc
        except requests.RequestException as exc:
            self._log(method, path, ticket, "failed", started)
            raise PsaUnavailable(f"{method} {path}: {_reason(exc)}") from exc
        self._log(method, path, ticket, response.status_code, started)
        _raise_for_status(method, path, response)
        if not expect_json or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise PsaUnavailable(
                f"{method} {path}: answer is not JSON", response.status_code
            ) from exc

    def _log(self, method, path, ticket, outcome, started):
        elapsed = (time.monotonic() - started) * 1000
        logger.info(
            "psa %s %s %s ticket=%s -> %s in %.0f ms",
            self.name,
            method,
            path.split("?", 1)[0],
            ticket if ticket is not None else "-",
            outcome,
            elapsed,
        )


def _raise_for_status(method, path, response):
    status = response.status_code
    if status < 400:
        return
    message = f"{method} {path.split('?', 1)[0]}: {status} {error_text(response)}"
    if status == 429 or (status == 503 and "Retry-After" in response.headers):
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise PsaThrottled(message, status, retry_after)
    if status in (401, 403):
        raise PsaAuthError(message, status)
    if status in _RETRYABLE:
        raise PsaUnavailable(message, status)
    raise PsaRejected(message, status)


def error_text(response):
    """The PSA's own words for an error, from whichever body shape it uses."""
    try:
        body = response.json()
    except ValueError:
        return (response.text or response.reason or "").strip()[:_MAX_ERROR_TEXT]
    return _flatten_error(body)[:_MAX_ERROR_TEXT]


def _flatten_error(body):
    if isinstance(body, list):
        return "; ".join(_flatten_error(part) for part in body)
    if not isinstance(body, dict):
        return str(body)
    # ConnectWise: {"message", "errors": [{"field", "message"}]}; Autotask:
    # {"errors": ["..."]}; Halo: {"ClassName", "Message"} or an OAuth error.
    parts = []
    for key in ("message", "Message", "error_description", "error"):
        if isinstance(body.get(key), str) and body[key]:
            parts.append(body[key])
            break
    for item in body.get("errors") or []:
        if isinstance(item, dict):
            field = item.get("field")
            text = item.get("message", "")
            parts.append(f"{field}: {text}" if field else text)
        else:
            parts.append(str(item))
    return "; ".join(parts) or json.dumps(body)[:_MAX_ERROR_TEXT]


def parse_retry_after(value):
    """Seconds to wait from a Retry-After header (seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _never_connected(exc):
    """True when the connection was refused or the name not found: not sent.

    requests wraps urllib3's MaxRetryError, whose ``reason`` says why.
    """
    return any(
        isinstance(arg, urllib3.exceptions.MaxRetryError)
        and isinstance(arg.reason, urllib3.exceptions.NewConnectionError)
        for arg in exc.args
    )


_REASONS = (
    ("RemoteDisconnected", "connection closed before an answer"),
    ("Connection refused", "connection refused"),
    ("Connection reset", "connection reset"),
    ("Name or service not known", "host name not found"),
    ("CERTIFICATE_VERIFY_FAILED", "TLS certificate not trusted"),
)


def _reason(exc):
    """A short cause; requests' own text nests the socket error several deep."""
    text = str(exc)
    for marker, reason in _REASONS:
        if marker in text:
            return reason
    return type(exc).__name__
