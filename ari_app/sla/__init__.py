"""The SLA clock: first-response and resolution targets measured from the call.

Due times are computed from ``Ticket.contact_at`` on each client's calendar
(``calendars``, ``policies``) and kept on the ticket by ``services``; the
service's loop (``component``, ``monitor``) marks tickets at risk and breached
and publishes ``sla.at_risk`` / ``sla.breached`` on ``ari_app.events``;
``reports`` and ``leak`` turn the tickets into the figures managers read; ``cli``
adds ``sla report``, ``sla recompute``, ``ack`` and ``report leak``.
"""
