"""SLA policies: what each client's contract promises, read from the config file.

A policy gives, for each priority P1..P4, a first-response target and a
resolution target and the calendar both run on. ``[sla]`` holds the default
policy; ``[sla.contract COMPANY]`` overrides any of it for one client (matched by
the company's name, case-insensitively); ``[sla.calendar NAME]`` defines the
schedules they refer to. Everything is parsed and checked by ``load_settings``
when the service or a command starts, so a typo names its setting at once.
"""

import calendar as month_names
import dataclasses
import re

from .. import config as cfg
from ..config import PRIORITIES
from ..exceptions import ConfigError
from . import calendars
from .calendars import ALWAYS, AlwaysOpen, Calendar

BUSINESS = "business"
DEFAULT_POLICY = "default"

# The defaults: P1 is 24x7, the rest run on business hours.
DEFAULT_TARGETS = {
    "P1": ("15m", "4h", ALWAYS),
    "P2": ("1h", "1d", BUSINESS),
    "P3": ("4h", "3d", BUSINESS),
    "P4": ("1d", "5d", BUSINESS),
}
DEFAULT_HOURS = "mon-fri 09:00-17:00"

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([dhms])")
_UNIT_SECONDS = {"h": 3600, "m": 60, "s": 1}


@dataclasses.dataclass(frozen=True)
class Duration:
    """A target as written: seconds of open time plus whole business days.

    Business days are kept apart because their length belongs to the calendar
    (``day_length``: 8 hours for a 09:00-17:00 week, 24 hours for 24x7).
    """

    text: str
    seconds: float = 0.0
    days: float = 0.0

    def on(self, calendar):
        return self.seconds + self.days * calendar.day_length


def parse_duration(setting, text):
    """``15m``, ``4h``, ``1d``, ``1h30m``: a positive amount of open time."""
    compact = text.strip().lower().replace(" ", "")
    matches = list(_DURATION.finditer(compact))
    if not matches or "".join(m.group(0) for m in matches) != compact:
        raise ConfigError(setting, f"{text!r} is not a duration like 15m, 4h or 1d")
    seconds = days = 0.0
    for match in matches:
        amount, unit = float(match[1]), match[2]
        if unit == "d":
            days += amount
        else:
            seconds += amount * _UNIT_SECONDS[unit]
    if seconds + days <= 0:
        raise ConfigError(setting, f"{text!r} must be longer than zero")
    return Duration(text.strip(), seconds, days)


@dataclasses.dataclass(frozen=True)
class Target:
    first_response: Duration
    resolution: Duration
    calendar: Calendar

    def first_response_seconds(self):
        return self.first_response.on(self.calendar)

    def resolution_seconds(self):
        return self.resolution.on(self.calendar)


@dataclasses.dataclass(frozen=True)
class Policy:
    name: str  # "default" or the contract's company name as written
    targets: dict  # priority -> Target
    timezone: str  # where the client is: times are shown in it
    monthly_value: float | None = None
    renewal: int | None = None  # month of the year the contract renews

    def target(self, priority):
        return self.targets.get(priority)


@dataclasses.dataclass(frozen=True)
class SlaSettings:
    default: Policy
    contracts: dict  # lower-cased company name -> Policy
    calendars: dict  # name -> Calendar
    timezone: str  # the MSP's own: how dates typed on the command line are read
    at_risk_share: float
    check_interval: float
    leak: dict = dataclasses.field(default_factory=dict)

    def policy_for(self, company_name):
        if company_name:
            return self.contracts.get(company_name.lower(), self.default)
        return self.default

    def target_for(self, company_name, priority):
        return self.policy_for(company_name).target(priority)


_TARGET_KEYS = {
    f"p{n}_{what}"
    for n in range(1, 5)
    for what in ("first_response", "resolution", "calendar")
}
_POLICY_KEYS = _TARGET_KEYS | {"calendar", "timezone", "monthly_value", "renewal"}
# What each kind of section may hold: a misspelt target must not silently leave
# the default in place.
_SECTION_KEYS = {
    "sla": _POLICY_KEYS | {"at_risk_share", "check_interval"},
    "sla.contract ": _POLICY_KEYS,
    "sla.calendar ": {
        "timezone",
        "hours",
        "holidays",
        "subdivision",
        "day_length",
        "closed",
        "open",
    },
    "sla.leak": {
        "monthly_value",
        "risk_per_miss",
        "risk_per_after_hours",
        "renewal_window",
        "currency",
        "stuck_after",
    },
}


def _check_keys(parser):
    for section in parser.sections():
        for name, allowed in _SECTION_KEYS.items():
            if section == name or (name.endswith(" ") and section.startswith(name)):
                for key in parser.options(section):
                    if key not in allowed:
                        raise ConfigError(
                            f"[{section}] {key}", "unknown setting (a typo?)"
                        )


def load_settings(config):
    """Read ``[sla]``, ``[sla.calendar *]`` and ``[sla.contract *]`` from config."""
    parser = config.parser
    _check_keys(parser)
    # The MSP's own zone unless the SLA clock is told otherwise.
    timezone = calendars.parse_zone(
        "[sla] timezone", cfg.get(parser, "sla", "timezone", config.timezone)
    )
    known = _calendars(parser, timezone)
    default = _policy(parser, "sla", DEFAULT_POLICY, known, None, timezone)
    contracts = {}
    for section in parser.sections():
        if section.startswith("sla.contract "):
            name = section[len("sla.contract ") :].strip()
            contracts[name.lower()] = _policy(
                parser, section, name, known, default, timezone
            )
    return SlaSettings(
        default=default,
        contracts=contracts,
        calendars=known,
        timezone=timezone,
        at_risk_share=cfg.get_float(
            parser, "sla", "at_risk_share", 0.75, low=0.01, high=0.99
        ),
        check_interval=cfg.get_float(
            parser, "sla", "check_interval", 30.0, low=1, high=3600
        ),
        leak=_leak(parser),
    )


def _calendars(parser, timezone):
    known = {ALWAYS: AlwaysOpen(timezone)}
    if not parser.has_section(f"sla.calendar {BUSINESS}"):
        known[BUSINESS] = _calendar(parser, None, BUSINESS, timezone)
    for section in parser.sections():
        if section.startswith("sla.calendar "):
            name = section[len("sla.calendar ") :].strip()
            if name == ALWAYS:
                raise ConfigError(f"[{section}]", "24x7 is built in; pick another name")
            known[name] = _calendar(parser, section, name, timezone)
    return known


def _calendar(parser, section, name, timezone):
    """One ``[sla.calendar NAME]``; with ``section`` None, the built-in default."""

    def setting(key, default=None):
        if section is None:
            return default
        return cfg.get(parser, section, key, default)

    where = f"[{section}]"
    zone = calendars.parse_zone(f"{where} timezone", setting("timezone", timezone))
    weekly = calendars.parse_hours(f"{where} hours", setting("hours", DEFAULT_HOURS))
    holidays = calendars.public_holidays(
        f"{where} holidays", setting("holidays"), setting("subdivision") or None
    )
    day_length = None
    if setting("day_length"):
        day_length = parse_duration(f"{where} day_length", setting("day_length"))
        if day_length.days:
            raise ConfigError(f"{where} day_length", "give it in hours, like 8h")
        day_length = day_length.seconds
    return Calendar(
        name,
        zone,
        weekly,
        public_holidays=holidays,
        closed=calendars.parse_dates(f"{where} closed", setting("closed")),
        open_dates=calendars.parse_dates(f"{where} open", setting("open")),
        day_length=day_length,
    )


def _policy(parser, section, name, known, base, timezone):
    """Targets for P1..P4; a contract starts from the default policy (``base``)."""
    calendar_name = cfg.get(parser, section, "calendar")
    if calendar_name and calendar_name not in known:
        raise ConfigError(f"[{section}] calendar", f"no [sla.calendar {calendar_name}]")
    targets = {}
    for priority in PRIORITIES:
        targets[priority] = _target(
            parser, section, priority, known, base, calendar_name
        )
    policy_zone = cfg.get(parser, section, "timezone")
    if policy_zone:
        policy_zone = calendars.parse_zone(f"[{section}] timezone", policy_zone)
    else:
        policy_zone = _shown_zone(targets, base, timezone)
    return Policy(
        name=name,
        targets=targets,
        timezone=policy_zone,
        monthly_value=_money(parser, section, "monthly_value"),
        renewal=_renewal(parser, section),
    )


def _target(parser, section, priority, known, base, calendar_name):
    key = priority.lower()
    if base is not None:
        inherited = base.target(priority)
        first, resolution = inherited.first_response, inherited.resolution
        calendar = inherited.calendar
        # A contract's own business calendar replaces the default's, but a
        # 24x7 target stays 24x7 unless the contract says otherwise.
        if calendar_name and not calendar.always_open:
            calendar = known[calendar_name]
    else:
        first_text, resolution_text, default_calendar = DEFAULT_TARGETS[priority]
        first = parse_duration("", first_text)
        resolution = parse_duration("", resolution_text)
        calendar = known[default_calendar]
        if calendar_name and not calendar.always_open:
            calendar = known[calendar_name]
    raw = cfg.get(parser, section, f"{key}_first_response")
    if raw:
        first = parse_duration(f"[{section}] {key}_first_response", raw)
    raw = cfg.get(parser, section, f"{key}_resolution")
    if raw:
        resolution = parse_duration(f"[{section}] {key}_resolution", raw)
    raw = cfg.get(parser, section, f"{key}_calendar")
    if raw:
        if raw not in known:
            raise ConfigError(f"[{section}] {key}_calendar", f"no [sla.calendar {raw}]")
        calendar = known[raw]
    return Target(first, resolution, calendar)


def _shown_zone(targets, base, timezone):
    for target in targets.values():
        if not target.calendar.always_open:
            return target.calendar.timezone
    return base.timezone if base is not None else timezone


def _money(parser, section, key):
    raw = cfg.get(parser, section, key)
    if raw in (None, ""):
        return None
    return cfg.get_float(parser, section, key, None, low=0)


def _renewal(parser, section):
    """``renewal`` is a month (3, mar, march): the contract renews every year then."""
    raw = cfg.get(parser, section, "renewal")
    if not raw:
        return None
    text = raw.strip().lower()
    if text.isdigit() and 1 <= int(text) <= 12:
        return int(text)
    for number in range(1, 13):
        names = (
            month_names.month_name[number].lower(),
            month_names.month_abbr[number].lower(),
        )
        if text in names:
            return number
    raise ConfigError(f"[{section}] renewal", f"{raw!r} is not a month like 3 or March")


def _leak(parser):
    section = "sla.leak"
    return {
        "monthly_value": cfg.get_float(parser, section, "monthly_value", 0.0, low=0),
        "risk_per_miss": cfg.get_float(
            parser, section, "risk_per_miss", 0.05, low=0, high=1
        ),
        "risk_per_after_hours": cfg.get_float(
            parser, section, "risk_per_after_hours", 0.01, low=0, high=1
        ),
        "renewal_window": cfg.get_int(parser, section, "renewal_window", 3, low=0),
        "currency": cfg.get(parser, section, "currency", "$"),
        "stuck_after": cfg.get_float(parser, section, "stuck_after", 3600.0, low=60),
    }
