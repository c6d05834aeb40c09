"""The service's configuration: one INI file, like Asterisk's own.

Defaults live here; the file at ``/etc/msp-intake/msp-intake.conf`` (or ``-c FILE``)
overrides them. ``load_config`` reads and checks everything at start-up so that a
typo stops the service with one line naming the setting, rather than dropping a
call later. Other parts of msp-intake (speech, PSA sync, the SLA clock) add their
own sections; they read them from ``Config.parser`` through the helpers below.
"""

import configparser
import dataclasses
import math
import os
import urllib.parse

from .exceptions import ConfigError

DEFAULT_PATH = "/etc/msp-intake/msp-intake.conf"
DEFAULT_STORE = "/var/lib/msp-intake/intake.sqlite3"

# Priority rules, first match wins. Each condition is one of: site_down, critical,
# "users >= N", unknown (every answer unknown); joined with "and".
DEFAULT_PRIORITY_RULES = (
    ("site_down and critical", "P1"),
    ("site_down", "P2"),
    ("critical", "P2"),
    ("users >= 5", "P3"),
    ("unknown", "P3"),
)
DEFAULT_PRIORITY = "P4"

# What each prompt plays: any ARI media URI (sound:, recording:, tone:...).
DEFAULT_PROMPTS = {
    "greeting": "sound:msp-intake/greeting",
    "q_site_down": "sound:msp-intake/q-site-down",
    "q_critical": "sound:msp-intake/q-critical",
    "q_users": "sound:msp-intake/q-users",
    "invalid": "sound:msp-intake/invalid",
    "no_answer": "sound:msp-intake/no-answer",
    "ticket_number": "sound:msp-intake/ticket-number",
    "goodbye": "sound:msp-intake/goodbye",
    # Voice answers (ari_app.speech): the free-form question, and the static
    # stand-in for the dynamic "I have you as <company>" prompt.
    "describe": "sound:msp-intake/describe",
    "matched": "sound:msp-intake/matched",
}

PRIORITIES = ("P1", "P2", "P3", "P4")

# Every section the product reads, and for the core's own the keys it knows, so
# that a misspelt section or key stops start-up instead of being ignored.
CORE_KEYS = {
    "ari": {"url", "username", "password", "app"},
    "store": {"path", "spool", "busy_timeout"},
    "intake": {"default_region", "timezone"},
    "triage": {
        "answer_timeout",
        "digit_timeout",
        "asks",
        "after",
        "continue_context",
        "continue_extension",
        "continue_priority",
        "failure_context",
    },
    "prompts": set(DEFAULT_PROMPTS),
    "service": {"shutdown_grace", "log_level"},
}
# Sections whose keys their own part checks; a trailing space marks a prefix.
OTHER_SECTIONS = (
    "priority",
    "sla",
    "sla.leak",
    "sla.calendar ",
    "sla.contract ",
    "psa",
    "speech",
    "speech_raise",
    "prompt_texts",
)


@dataclasses.dataclass(frozen=True)
class AriSettings:
    url: str = "http://127.0.0.1:8088"
    username: str = "msp-intake"
    password: str = ""
    app: str = "msp-intake"


@dataclasses.dataclass(frozen=True)
class TriageSettings:
    answer_timeout: float = 6.0
    digit_timeout: float = 3.0
    asks: int = 3
    after: str = "hangup"
    continue_context: str = "msp-intake-after"
    continue_extension: str = "s"
    continue_priority: int = 1
    failure_context: str = "msp-intake-fallback"
    priority_rules: tuple = DEFAULT_PRIORITY_RULES
    default_priority: str = DEFAULT_PRIORITY


@dataclasses.dataclass(frozen=True)
class Config:
    ari: AriSettings
    store_path: str
    spool_path: str
    busy_timeout: float
    default_region: str
    timezone: str
    triage: TriageSettings
    prompts: dict
    shutdown_grace: float
    log_level: str
    path: str | None = None
    parser: configparser.ConfigParser = dataclasses.field(
        default_factory=configparser.ConfigParser, compare=False, repr=False
    )


def load_config(path=None, *, overrides=None):
    """Read and check the configuration; raise ConfigError naming a bad setting.

    ``overrides`` maps ``"section.key"`` to a value; the demo and the tests use
    it to point the service at a test double without writing a file.
    """
    parser = configparser.ConfigParser(interpolation=None)
    if path is not None:
        _read_file(parser, path)
    for dotted, value in (overrides or {}).items():
        section, key = dotted.split(".", 1)
        if not parser.has_section(section):
            parser.add_section(section)
        parser.set(section, key, str(value))
    store_path = _store_path(parser)
    _check_names(parser)
    return Config(
        ari=_ari(parser),
        store_path=store_path,
        busy_timeout=get_float(parser, "store", "busy_timeout", 5.0, low=0.05, high=60),
        spool_path=expand_path(
            get(parser, "store", "spool", "")
            or os.path.join(os.path.dirname(store_path), "unsaved-contacts.jsonl")
        ),
        default_region=_region(parser),
        timezone=_timezone(parser),
        triage=_triage(parser),
        prompts=_prompts(parser),
        shutdown_grace=get_float(
            parser, "service", "shutdown_grace", 20.0, low=0, high=600
        ),
        log_level=_choice(
            parser,
            "service",
            "log_level",
            "INFO",
            ("DEBUG", "INFO", "WARNING", "ERROR"),
            upper=True,
        ),
        path=path,
        parser=parser,
    )


def _check_names(parser):
    for section in parser.sections():
        known = CORE_KEYS.get(section)
        if known is not None:
            for key in parser.options(section):
                if key not in known:
                    allowed = ", ".join(sorted(known))
                    raise ConfigError(
                        f"[{section}] {key}", f"unknown setting (known: {allowed})"
                    )
        elif not any(_section_matches(section, name) for name in OTHER_SECTIONS):
            raise ConfigError(f"[{section}]", "unknown section (a typo?)")


def _section_matches(section, name):
    if name.endswith(" "):
        return section.startswith(name) and len(section) > len(name)
    return section == name


def _read_file(parser, path):
    try:
        # utf-8-sig: a file saved by an editor that writes a byte-order mark.
        with open(path, encoding="utf-8-sig") as handle:
            parser.read_file(handle)
    except FileNotFoundError:
        raise ConfigError(path, "no such file") from None
    except PermissionError:
        raise ConfigError(path, "not readable by this user") from None
    except IsADirectoryError:
        raise ConfigError(path, "is a directory, not a config file") from None
    except UnicodeDecodeError:
        raise ConfigError(path, "is not UTF-8 text") from None
    except configparser.Error as exc:
        first_line = str(exc).splitlines()[0]
        raise ConfigError(path, f"not a valid INI file ({first_line})") from None


def get(parser, section, key, default=None, *, required=False):
    """A string setting; ``required`` settings name themselves when missing."""
    if parser.has_option(section, key):
        value = parser.get(section, key).strip()
        if value or not required:
            return value
    if required:
        if not parser.has_section(section):
            raise ConfigError(f"[{section}]", "section is missing")
        raise ConfigError(f"[{section}] {key}", "is required")
    return default


def get_float(parser, section, key, default, *, low=None, high=None):
    raw = get(parser, section, key)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(f"[{section}] {key}", f"{raw!r} is not a number") from None
    if not math.isfinite(value):
        raise ConfigError(f"[{section}] {key}", f"{raw!r} is not a finite number")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ConfigError(f"[{section}] {key}", f"{raw} is out of range")
    return value


def get_int(parser, section, key, default, *, low=None, high=None):
    raw = get(parser, section, key)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(
            f"[{section}] {key}", f"{raw!r} is not a whole number"
        ) from None
    if (low is not None and value < low) or (high is not None and value > high):
        raise ConfigError(f"[{section}] {key}", f"{raw} is out of range")
    return value


def get_bool(parser, section, key, default):
    raw = get(parser, section, key)
    if raw in (None, ""):
        return default
    lowered = raw.lower()
    if lowered in ("yes", "true", "on", "1"):
        return True
    if lowered in ("no", "false", "off", "0"):
        return False
    raise ConfigError(f"[{section}] {key}", f"{raw!r} is not yes or no")


def _choice(parser, section, key, default, choices, *, upper=False):
    raw = get(parser, section, key, default)
    value = raw.upper() if upper else raw.lower()
    if value not in choices:
        allowed = ", ".join(choices)
        raise ConfigError(f"[{section}] {key}", f"{raw!r} is not one of {allowed}")
    return value


def _ari(parser):
    url = get(parser, "ari", "url", required=True).rstrip("/")
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError("[ari] url", f"{url!r} is not an http:// or https:// URL")
    try:
        _ = parts.port  # raises ValueError for a port like ":99999"
    except ValueError:
        raise ConfigError("[ari] url", f"{url!r} has a bad port") from None
    if url.endswith("/ari"):
        url = url[: -len("/ari")]
    return AriSettings(
        url=url,
        username=get(parser, "ari", "username", required=True),
        password=get(parser, "ari", "password", required=True),
        app=get(parser, "ari", "app", "msp-intake"),
    )


def _store_path(parser):
    path = expand_path(get(parser, "store", "path", DEFAULT_STORE))
    if not path:
        raise ConfigError("[store] path", "is empty")
    if os.path.isdir(path):
        raise ConfigError("[store] path", f"{path} is a directory, not a file")
    return os.path.abspath(path)


def _region(parser):
    import phonenumbers

    region = get(parser, "intake", "default_region", "US").upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ConfigError(
            "[intake] default_region", f"{region!r} is not a two-letter region code"
        )
    return region


def _timezone(parser):
    """The MSP's own zone, for showing times; stored times are always UTC."""
    import zoneinfo

    name = get(parser, "intake", "timezone", "UTC")
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            "[intake] timezone", f"{name!r} is not an IANA zone like America/New_York"
        ) from None
    return name


def _triage(parser):
    from .triage import parse_rules

    after = _choice(parser, "triage", "after", "hangup", ("hangup", "continue"))
    rules = DEFAULT_PRIORITY_RULES
    default_priority = DEFAULT_PRIORITY
    if parser.has_section("priority"):
        rules, default_priority = _priority_rules(parser)
    parse_rules(rules)  # raises ConfigError naming the bad rule
    return TriageSettings(
        answer_timeout=get_float(
            parser, "triage", "answer_timeout", 6.0, low=0.1, high=120
        ),
        digit_timeout=get_float(
            parser, "triage", "digit_timeout", 3.0, low=0.1, high=60
        ),
        asks=get_int(parser, "triage", "asks", 3, low=1, high=5),
        after=after,
        continue_context=_dialplan_name(parser, "continue_context", "msp-intake-after"),
        continue_extension=_dialplan_name(parser, "continue_extension", "s"),
        failure_context=_dialplan_name(
            parser, "failure_context", "msp-intake-fallback"
        ),
        continue_priority=get_int(parser, "triage", "continue_priority", 1, low=1),
        priority_rules=rules,
        default_priority=default_priority,
    )


def _dialplan_name(parser, key, default):
    value = get(parser, "triage", key, default)
    if not value or any(ch in value for ch in ", ;|"):
        raise ConfigError(f"[triage] {key}", f"{value!r} is not a dialplan name")
    return value


def _priority_rules(parser):
    """``[priority]`` holds ``ruleN = CONDITION -> PN`` lines and ``default = PN``."""
    rules = []
    default_priority = DEFAULT_PRIORITY
    for key, value in parser.items("priority"):
        if key == "default":
            default_priority = value.strip().upper()
            if default_priority not in PRIORITIES:
                raise ConfigError("[priority] default", f"{value!r} is not P1..P4")
            continue
        if "->" not in value:
            raise ConfigError(f"[priority] {key}", "must read 'CONDITION -> P1..P4'")
        condition, _, priority = value.rpartition("->")
        priority = priority.strip().upper()
        if priority not in PRIORITIES:
            raise ConfigError(f"[priority] {key}", f"{priority!r} is not P1..P4")
        rules.append((key, condition.strip(), priority))
    if not rules:
        # Only "default = ..." given: the built-in rules still apply.
        return DEFAULT_PRIORITY_RULES, default_priority
    rules.sort(key=lambda rule: _rule_order(rule[0]))
    return tuple((condition, priority) for _, condition, priority in rules), (
        default_priority
    )


def _rule_order(key):
    digits = "".join(ch for ch in key if ch.isdigit())
    return (int(digits) if digits else 0, key)


def _prompts(parser):
    prompts = dict(DEFAULT_PROMPTS)
    if parser.has_section("prompts"):
        for key, value in parser.items("prompts"):
            if key not in DEFAULT_PROMPTS:
                known = ", ".join(sorted(DEFAULT_PROMPTS))
                raise ConfigError(
                    f"[prompts] {key}", f"unknown prompt (known: {known})"
                )
            if ":" not in value:
                raise ConfigError(
                    f"[prompts] {key}", f"{value!r} is not a media URI like sound:NAME"
                )
            prompts[key] = value.strip()
    return prompts


def expand_path(path):
    return os.path.expanduser(path)
