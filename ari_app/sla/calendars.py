"""Business calendars: when the SLA clock runs.

A ticket's first-response and resolution clocks start at the contact time the
PBX recorded and only count the time its calendar is open: a weekly schedule in
the client's time zone, minus public holidays (from the ``holidays`` library)
and the MSP's own closed dates. A contact outside business hours starts counting
when business hours next begin. The ``24x7`` calendar counts every second.

Times go in and out as naive UTC datetimes, like every time in the store; local
time exists only inside this module, so DST changes are handled in one place by
``zoneinfo``: an open day is turned into UTC intervals, and the clock adds up
those intervals.
"""

import datetime
import re
import zoneinfo

import holidays as holidays_lib

from ..exceptions import ConfigError

UTC = datetime.UTC
ALWAYS = "24x7"
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_RANGE = re.compile(
    r"^(?P<days>[a-z]{3}(?:-[a-z]{3})?)\s+"
    r"(?P<start>\d{1,2}:\d{2})\s*-\s*(?P<end>\d{1,2}:\d{2})$"
)
# Far enough to cross any run of holidays; a calendar that never opens in this
# many days is a configuration mistake, not a long weekend.
_SEARCH_DAYS = 400


class Calendar:
    """Open hours for one schedule: ``weekly[weekday]`` is a list of (start, end)
    minute-of-day pairs in local time; ``closed`` holds extra closed dates."""

    def __init__(
        self,
        name,
        timezone,
        weekly,
        *,
        public_holidays=None,
        closed=(),
        open_dates=(),
        day_length=None,
    ):
        self.name = name
        self.timezone = timezone
        self.zone = zoneinfo.ZoneInfo(timezone)
        self.weekly = weekly
        self.public_holidays = public_holidays
        self.closed = frozenset(closed)
        self.open_dates = frozenset(open_dates)
        self.day_length = day_length or max(_day_minutes(r) for r in weekly) * 60
        self._days = {}

    @property
    def always_open(self):
        return False

    # -- what is open when ------------------------------------------------------

    def is_closed_date(self, date):
        """A holiday or one of the MSP's own closed dates (open dates win)."""
        if date in self.open_dates:
            return False
        if date in self.closed:
            return True
        return self.public_holidays is not None and date in self.public_holidays

    def holiday_name(self, date):
        if date in self.closed:
            return "closed"
        if self.public_holidays is not None:
            return self.public_holidays.get(date)
        return None

    def intervals_on(self, date):
        """The open intervals of one local date, as naive UTC (start, end) pairs."""
        cached = self._days.get(date)
        if cached is None:
            cached = self._days[date] = tuple(self._compute_day(date))
        return cached

    def _compute_day(self, date):
        if self.is_closed_date(date):
            return
        midnight = datetime.datetime.combine(date, datetime.time(), self.zone)
        for start, end in self.weekly[date.weekday()]:
            yield self._to_utc(midnight, start), self._to_utc(midnight, end)

    def _to_utc(self, midnight, minutes):
        # Wall-clock arithmetic on the local day, then conversion: 09:00 stays
        # 09:00 on the day the clocks change. A time inside the spring gap maps
        # forward, as zoneinfo does for fold=0.
        day = midnight.date() + datetime.timedelta(days=minutes // 1440)
        wall = datetime.datetime.combine(
            day, datetime.time(minutes % 1440 // 60, minutes % 60), self.zone
        )
        return wall.astimezone(UTC).replace(tzinfo=None)

    def local_date(self, moment):
        return moment.replace(tzinfo=UTC).astimezone(self.zone).date()

    def open_intervals(self, moment):
        """Open intervals that end after ``moment``, in order, clipped to it."""
        date = self.local_date(moment) - datetime.timedelta(days=1)
        for _ in range(_SEARCH_DAYS):
            for start, end in self.intervals_on(date):
                if end > moment:
                    yield max(start, moment), end
            date += datetime.timedelta(days=1)
        raise ConfigError(
            f"[sla.calendar {self.name}]", f"never open within {_SEARCH_DAYS} days"
        )

    def is_open(self, moment):
        for start, end in self.intervals_on(self.local_date(moment)):
            if start <= moment < end:
                return True
        return False

    # -- the clock --------------------------------------------------------------

    def add(self, moment, seconds):
        """The moment ``seconds`` of open time after ``moment``."""
        remaining = datetime.timedelta(seconds=seconds)
        for start, end in self.open_intervals(moment):
            if start + remaining <= end:
                return start + remaining
            remaining -= end - start
        raise AssertionError("open_intervals never ends without raising")

    def elapsed(self, start, end):
        """Seconds of open time between two moments (0 if ``end`` is earlier)."""
        total = datetime.timedelta()
        if end <= start:
            return 0.0
        for open_at, close_at in self.open_intervals(start):
            if open_at >= end:
                break
            total += min(close_at, end) - open_at
        return total.total_seconds()

    def to_local(self, moment):
        """A naive UTC time as an aware datetime in this calendar's time zone."""
        if moment is None:
            return None
        return moment.replace(tzinfo=UTC).astimezone(self.zone)


class AlwaysOpen(Calendar):
    """24x7: every second counts, in real elapsed time across DST changes."""

    def __init__(self, timezone="UTC"):
        super().__init__(ALWAYS, timezone, [[(0, 1440)]] * 7)

    @property
    def always_open(self):
        return True

    def is_closed_date(self, date):
        return False

    def is_open(self, moment):
        return True

    def add(self, moment, seconds):
        return moment + datetime.timedelta(seconds=seconds)

    def elapsed(self, start, end):
        return max(0.0, (end - start).total_seconds())


def _day_minutes(ranges):
    return sum(end - start for start, end in ranges)


# -- reading calendars from the config file ---------------------------------------


def parse_zone(setting, name):
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(setting, f"{name!r} is not an IANA time zone") from None
    return name


def parse_hours(setting, text):
    """``mon-fri 09:00-17:00, sat 09:00-12:00`` into a list of 7 range lists."""
    weekly = [[] for _ in WEEKDAYS]
    for part in (p.strip().lower() for p in text.split(",")):
        match = _RANGE.match(part)
        if not match:
            raise ConfigError(setting, f"{part!r} is not like 'mon-fri 09:00-17:00'")
        start = _minutes(setting, match["start"])
        end = _minutes(setting, match["end"])
        if end <= start:
            raise ConfigError(
                setting,
                f"{part!r} ends before it starts (split a night shift "
                "into 'mon 22:00-24:00, tue 00:00-06:00')",
            )
        for day in _days(setting, match["days"]):
            weekly[day].append((start, end))
    for ranges in weekly:
        ranges.sort()
        for (_, end), (start, _) in zip(ranges, ranges[1:], strict=False):
            if start < end:
                raise ConfigError(setting, "has overlapping hours on one day")
    if not any(weekly):
        raise ConfigError(setting, "has no open hours")
    return weekly


def _minutes(setting, text):
    hours, minutes = (int(x) for x in text.split(":"))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes):
        raise ConfigError(setting, f"{text!r} is not a time of day")
    return hours * 60 + minutes


def _days(setting, text):
    first, _, last = text.partition("-")
    for day in (first, last or first):
        if day not in WEEKDAYS:
            raise ConfigError(setting, f"{day!r} is not a day (mon, tue ... sun)")
    start, end = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
    if end < start:
        raise ConfigError(setting, f"{text!r} runs backwards")
    return range(start, end + 1)


def parse_dates(setting, text):
    dates = []
    for part in (p.strip() for p in (text or "").split(",")):
        if not part:
            continue
        try:
            dates.append(datetime.date.fromisoformat(part))
        except ValueError:
            raise ConfigError(
                setting, f"{part!r} is not a date like 2026-12-24"
            ) from None
    return dates


def public_holidays(setting, country, subdivision=None):
    """The holidays library's calendar for a country (and region), or None."""
    if not country:
        return None
    try:
        return holidays_lib.country_holidays(country.upper(), subdiv=subdivision)
    except NotImplementedError as exc:
        raise ConfigError(setting, str(exc)) from None
