"""Business time, hand-checked: each expected answer is worked out in the comment.

Desks: "ny" is mon-fri 09:00-17:00 America/New_York with US holidays and
2026-12-24 closed; "london" is mon-fri 09:00-17:00 Europe/London with English
bank holidays. Targets are the defaults: P1 15m on 24x7, P2 1h, P3 4h and P4 1d
(one 8-hour business day) on business hours. Contacts are UTC, as stored.
"""

import pytest

from ari_app.sla import services

from .conftest import utc

CASES = [
    # Across a weekend. Fri 2026-11-06 15:00 EST (20:00Z): 2h left on Friday,
    # the other 2h from Mon 09:00 EST: Mon 11:00 EST = 16:00Z.
    ("weekend", "Northwind", "P3", "2026-11-06T20:00", "2026-11-09T16:00"),
    # Across a holiday. Wed 2026-11-25 16:00 EST (21:00Z): 1h on Wednesday,
    # Thanksgiving (Thu) is closed, 3h from Fri 09:00 EST: 12:00 EST = 17:00Z.
    ("thanksgiving", "Northwind", "P3", "2026-11-25T21:00", "2026-11-27T17:00"),
    # The MSP's own closed date and Christmas. Wed 2026-12-23 16:00 EST (21:00Z):
    # 1h Wednesday, Thu 24th closed, Fri 25th Christmas, 3h from Mon 28th
    # 09:00 EST: 12:00 EST = 17:00Z.
    ("closed date", "Northwind", "P3", "2026-12-23T21:00", "2026-12-28T17:00"),
    # Spring DST, New York (clocks go forward Sun 2026-03-08). Fri 16:00 EST
    # (21:00Z): 1h Friday, 3h from Mon 09:00 EDT (13:00Z): 12:00 EDT = 16:00Z.
    ("ny spring", "Northwind", "P3", "2026-03-06T21:00", "2026-03-09T16:00"),
    # Autumn DST, New York (clocks go back Sun 2026-11-01). Fri 2026-10-30
    # 16:30 EDT (20:30Z): 30m Friday, 3h30m from Mon 09:00 EST (14:00Z):
    # 12:30 EST = 17:30Z.
    ("ny autumn", "Northwind", "P3", "2026-10-30T20:30", "2026-11-02T17:30"),
    # Spring DST, London (BST from Sun 2026-03-29). Fri 16:00 GMT (16:00Z): 1h
    # Friday, 3h from Mon 09:00 BST (08:00Z): 12:00 BST = 11:00Z.
    ("london spring", "London Law", "P3", "2026-03-27T16:00", "2026-03-30T11:00"),
    # Autumn DST, London (GMT from Sun 2026-10-25). Fri 15:00 BST (14:00Z): 2h
    # Friday, 2h from Mon 09:00 GMT (09:00Z): 11:00 GMT = 11:00Z.
    ("london autumn", "London Law", "P3", "2026-10-23T14:00", "2026-10-26T11:00"),
    # A P1 at 03:00 on Sunday, 24x7: Sun 2026-12-06 03:00 EST = 08:00Z, plus
    # 15 minutes of real time: 08:15Z.
    ("p1 sunday 03:00", "Northwind", "P1", "2026-12-06T08:00", "2026-12-06T08:15"),
    # A 24x7 P1 across the spring gap: Sun 2026-03-08 01:50 EST (06:50Z) plus
    # 15 real minutes is 07:05Z (03:05 EDT), not 02:05 local time.
    ("p1 spring gap", "Northwind", "P1", "2026-03-08T06:50", "2026-03-08T07:05"),
    # A 24x7 P1 in the repeated autumn hour: 01:55 EDT (05:55Z) + 15m = 06:10Z
    # (01:10 EST, the second 01:10 of the night).
    ("p1 autumn fold", "Northwind", "P1", "2026-11-01T05:55", "2026-11-01T06:10"),
    # A P3 at 17:59 on a Friday: Fri 2026-12-04 17:59 EST (22:59Z) is after
    # hours, so the clock starts Mon 09:00 EST: 13:00 EST = 18:00Z.
    ("p3 friday 17:59", "Northwind", "P3", "2026-12-04T22:59", "2026-12-07T18:00"),
    # A contact before the day starts: Tue 2026-12-08 07:30 EST (12:30Z), P2:
    # counting from 09:00 EST, due 10:00 EST = 15:00Z.
    ("before opening", "Northwind", "P2", "2026-12-08T12:30", "2026-12-08T15:00"),
    # 23:59 on a Friday before a holiday (London, bank holiday Mon 2026-08-31):
    # Fri 23:59 BST (22:59Z) starts counting Tue 09:00 BST (08:00Z): 12:00Z.
    (
        "friday 23:59 bank holiday",
        "London Law",
        "P3",
        "2026-08-28T22:59",
        "2026-09-01T12:00",
    ),
    # The same as P4, one business day (8h): Tue 17:00 BST = 16:00Z.
    ("p4 bank holiday", "London Law", "P4", "2026-08-28T22:59", "2026-09-01T16:00"),
    # 23:59 on the Friday before Labor Day (Mon 2026-09-07): 23:59 EDT is
    # 03:59Z on Saturday; counting starts Tue 09:00 EDT (13:00Z): 17:00Z.
    (
        "friday 23:59 labor day",
        "Northwind",
        "P3",
        "2026-09-05T03:59",
        "2026-09-08T17:00",
    ),
    # A leap day: Mon 2028-02-28 15:00 EST (20:00Z), P4 8h: 2h Monday, 6h from
    # Tue 29 Feb 09:00 EST: 15:00 EST = 20:00Z on 29 February.
    ("leap day", "Northwind", "P4", "2028-02-28T20:00", "2028-02-29T20:00"),
    # Inside business hours, no boundary: Tue 10:15 EST (15:15Z) + 1h.
    ("plain p2", "Northwind", "P2", "2026-12-08T15:15", "2026-12-08T16:15"),
]


@pytest.mark.parametrize(
    ("company", "priority", "contact", "due"),
    [case[1:] for case in CASES],
    ids=[case[0] for case in CASES],
)
def test_first_response_due(settings, company, priority, contact, due):
    clock = services.compute_clock(settings, utc(contact), priority, company)
    assert clock.first_response_due == utc(due)


def test_at_risk_is_the_share_of_the_target(settings):
    # P1 at 08:00Z, 24x7, 75% of 15 minutes is 11m15s: 08:11:15Z.
    clock = services.compute_clock(settings, utc("2026-12-06T08:00"), "P1", None)
    assert clock.first_response_risk_at == utc("2026-12-06T08:11:15")


def test_at_risk_in_business_time(settings):
    # P3 Fri 17:59 EST: 75% of 4h is 3h from Mon 09:00 EST: 12:00 EST = 17:00Z.
    clock = services.compute_clock(settings, utc("2026-12-04T22:59"), "P3", None)
    assert clock.first_response_risk_at == utc("2026-12-07T17:00")


def test_time_to_first_response_is_counted_in_business_time(settings):
    # Fri 17:59 EST contact, answered Mon 09:30 EST (14:30Z): 30 business minutes.
    clock = services.compute_clock(
        settings, utc("2026-12-04T22:59"), "P3", None, utc("2026-12-07T14:30")
    )
    assert clock.first_response_seconds == 1800


def test_elapsed_across_spring_change_is_real_business_time(settings):
    # Fri 2026-03-06 16:00 EST to Mon 2026-03-09 10:00 EDT: 1h + 1h.
    ny = settings.calendars["ny"]
    assert ny.elapsed(utc("2026-03-06T21:00"), utc("2026-03-09T14:00")) == 7200


def test_no_priority_means_no_clock(settings):
    clock = services.compute_clock(settings, utc("2026-12-08T15:15"), None, None)
    assert clock.first_response_due is None and clock.policy is None


def test_resolution_pause_moves_the_due_time(settings):
    # P2 resolution is 1d = 8h. Contact Tue 2026-12-08 09:00 EST (14:00Z): due
    # Tue 17:00 EST (22:00Z). Waiting on the client 10:00-12:00 EST moves it
    # two business hours: Wed 11:00 EST = 16:00Z. First response does not move.
    contact = utc("2026-12-08T14:00")
    plain = services.compute_clock(settings, contact, "P2", None)
    assert plain.resolution_due == utc("2026-12-08T22:00")
    pauses = [(utc("2026-12-08T15:00"), utc("2026-12-08T17:00"))]
    paused = services.compute_clock(settings, contact, "P2", None, pauses=pauses)
    assert paused.resolution_due == utc("2026-12-09T16:00")
    assert paused.first_response_due == plain.first_response_due


def test_resolution_pause_overnight(settings):
    # Same contact; paused Tue 16:00 EST to Wed 10:00 EST is 1h + 1h of business
    # time, so the 8h run out at Wed 11:00 EST = 16:00Z.
    pauses = [(utc("2026-12-08T21:00"), utc("2026-12-09T15:00"))]
    clock = services.compute_clock(
        settings, utc("2026-12-08T14:00"), "P2", None, pauses=pauses
    )
    assert clock.resolution_due == utc("2026-12-09T16:00")


def test_open_pause_stops_the_resolution_clock(settings):
    pauses = [(utc("2026-12-08T15:00"), None)]
    clock = services.compute_clock(
        settings, utc("2026-12-08T14:00"), "P2", None, pauses=pauses
    )
    assert clock.resolution_due is None
    assert clock.first_response_due == utc("2026-12-08T15:00")
