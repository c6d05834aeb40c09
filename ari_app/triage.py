"""Priority from the caller's triage answers, by the rules in the config file.

The IVR (``callflow``) collects three answers: is the whole site down, is a
critical system involved, how many people are affected. Each may be unknown
(``None``) when the caller gave no usable answer. The rules are read from
``[priority]``; the first one whose every condition holds sets the priority.
"""

import dataclasses
import functools
import re

from .exceptions import ConfigError

_USERS = re.compile(r"^users\s*>=\s*(\d+)$")


@dataclasses.dataclass(frozen=True)
class Answers:
    site_down: bool | None = None
    critical: bool | None = None
    users: int | None = None

    @property
    def all_unknown(self):
        return self.site_down is None and self.critical is None and self.users is None


def parse_condition(text):
    """Turn ``"site_down and users >= 5"`` into a predicate over Answers."""
    tests = []
    for part in text.split(" and "):
        part = part.strip().lower()
        match = _USERS.match(part)
        if match:
            tests.append(_users_at_least(int(match.group(1))))
        elif part == "site_down":
            tests.append(lambda a: a.site_down is True)
        elif part == "critical":
            tests.append(lambda a: a.critical is True)
        elif part == "unknown":
            tests.append(lambda a: a.all_unknown)
        else:
            raise ConfigError(
                "[priority]",
                f"unknown condition {part!r} (use site_down, critical, "
                "'users >= N' or unknown, joined with 'and')",
            )
    return lambda answers: all(test(answers) for test in tests)


def _users_at_least(count):
    return lambda a: a.users is not None and a.users >= count


@functools.lru_cache(maxsize=16)
def parse_rules(rules):
    return tuple((text, parse_condition(text), priority) for text, priority in rules)


def decide(answers, rules, default):
    """Return ``(priority, reason)``; the reason names the rule that matched."""
    for text, test, priority in parse_rules(rules):
        if test(answers):
            return priority, f"rule '{text}'"
    return default, "no rule matched (default)"
