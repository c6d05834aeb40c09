"""msp-intake: every inbound support call becomes a timestamped, prioritized ticket.

The flow: a call reaches Asterisk, the dialplan hands it to this Stasis application,
the ticket is committed with the PBX's own contact time before the first prompt,
the caller is matched to a client, a triage IVR sets the priority, and the ticket
goes on to the board, the SLA clock and the MSP's PSA.
"""

import logging

__version__ = "0.1.0"

logging.getLogger(__name__).addHandler(logging.NullHandler())
