"""Errors of the SLA clock (all are msp-intake errors)."""

from ..exceptions import MspIntakeError


class SlaError(MspIntakeError):
    """A first response, pause or report request that cannot be honoured."""
