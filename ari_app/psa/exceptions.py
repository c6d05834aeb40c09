"""Errors of the PSA sync, and what the worker does with each.

    MspIntakeError (ari_app.exceptions)
    +-- PsaError                the PSA could not take a request
        +-- PsaUnavailable      down, unreachable, 5xx, or no answer in time: retry
            +-- PsaTimeout      sent, but no answer: the ticket may exist, look it up
            +-- PsaThrottled    429 (or 503) with Retry-After: wait that long
        +-- PsaAuthError        credentials refused (401/403): retry, fix the secrets
        +-- PsaRejected         a 4xx retrying cannot fix (bad field, unknown company):
                                the ticket is parked with the PSA's own message

``requests`` errors are translated into these in exactly one place,
``ari_app.psa.http``.
"""

from ..exceptions import MspIntakeError


class PsaError(MspIntakeError):
    """The PSA could not take a request; ``status`` is the HTTP status or None."""

    def __init__(self, message, status=None):
        self.status = status
        self.message = message
        super().__init__(message)


class PsaUnavailable(PsaError):
    """Retrying later can fix this: the PSA is down, overloaded or unreachable."""


class PsaTimeout(PsaUnavailable):
    """The request went out and no answer came back: it may have been committed."""


class PsaThrottled(PsaUnavailable):
    """The PSA asked us to slow down; ``retry_after`` is in seconds."""

    def __init__(self, message, status=429, retry_after=None):
        super().__init__(message, status)
        self.retry_after = retry_after


class PsaAuthError(PsaError):
    """The PSA refused our credentials. Every ticket would fail the same way."""


class PsaRejected(PsaError):
    """The PSA refused this ticket for a reason retrying cannot fix."""
