"""The ``[psa]`` section: which PSA, how to reach it, and its picklist values.

Read once at start-up (and by the ``sync`` and ``directory sync`` commands); a
typo or a missing value raises ConfigError naming the setting, so the service
does not start with a sync that would park every ticket. The credentials come
from the separate secrets file (``secrets``).
"""

import dataclasses
import os

from .. import config as cfg
from ..config import PRIORITIES
from ..exceptions import ConfigError
from .secrets import load_secrets

SECTION = "[psa]"
TYPES = ("connectwise", "autotask", "halo", "webhook", "none")
DEFAULT_SECRETS = "/etc/msp-intake/secrets.conf"

# Settings every PSA type understands.
COMMON_KEYS = {
    "type",
    "url",
    "secrets",
    "verify_tls",
    "ca_bundle",
    "timeout",
    "create_holdoff",
    "backoff_initial",
    "backoff_max",
    "response_poll",
    "directory_interval",
    "directory_full_interval",
}
# Settings of the three ticketing PSAs (not the webhook).
TICKET_KEYS = {
    "priority_p1",
    "priority_p2",
    "priority_p3",
    "priority_p4",
    "status",
    "responded_statuses",
    "unmatched_company",
}


@dataclasses.dataclass(frozen=True)
class PsaSettings:
    type: str
    url: str
    secrets_path: str
    verify: object  # True, False, or a CA bundle path (what requests takes)
    timeout: float
    backoff_initial: float
    backoff_max: float
    response_poll: float
    directory_interval: float
    directory_full_interval: float
    region: str
    priorities: dict  # "P1".."P4" -> the PSA's priority value
    status: str | None
    responded_statuses: tuple
    unmatched_company: str | None
    options: dict  # the PSA type's own settings, already checked
    credentials: dict = dataclasses.field(repr=False, default_factory=dict)
    # Seconds to wait after a create that got no answer before creating again.
    create_holdoff: float = 60.0


def load_settings(config, *, with_secrets=True):
    """PsaSettings for ``config``, or None when no PSA is configured."""
    from .connectors import connector_class

    parser = config.parser
    if not parser.has_section("psa"):
        return None
    kind = cfg.get(parser, "psa", "type", required=True).lower()
    if kind not in TYPES:
        raise ConfigError("[psa] type", f"{kind!r} is not one of {', '.join(TYPES)}")
    if kind == "none":
        return None
    klass = connector_class(kind)
    _check_known_keys(parser, klass)
    secrets_path = cfg.expand_path(cfg.get(parser, "psa", "secrets", DEFAULT_SECRETS))
    credentials = {}
    if with_secrets:
        credentials = load_secrets(secrets_path, kind, klass.SECRET_KEYS)
    ticketing = kind != "webhook"
    settings = PsaSettings(
        type=kind,
        url=_url(parser, klass),
        secrets_path=secrets_path,
        verify=_verify(parser),
        timeout=cfg.get_float(parser, "psa", "timeout", 10.0, low=0.1, high=300),
        backoff_initial=cfg.get_float(parser, "psa", "backoff_initial", 2.0, low=0),
        backoff_max=cfg.get_float(parser, "psa", "backoff_max", 30.0, low=0),
        response_poll=cfg.get_float(parser, "psa", "response_poll", 60.0, low=0),
        directory_interval=_interval(parser, "directory_interval", 900.0, ticketing),
        directory_full_interval=_interval(
            parser, "directory_full_interval", 86400.0, ticketing
        ),
        region=config.default_region,
        priorities=_priorities(parser) if ticketing else {},
        status=cfg.get(parser, "psa", "status", required=True) if ticketing else None,
        responded_statuses=_list(parser, "responded_statuses"),
        unmatched_company=(
            cfg.get(parser, "psa", "unmatched_company", required=True)
            if ticketing
            else None
        ),
        options=klass.read_options(parser),
        credentials=credentials,
        create_holdoff=cfg.get_float(
            parser, "psa", "create_holdoff", 60.0, low=0, high=3600
        ),
    )
    if settings.status in settings.responded_statuses:
        raise ConfigError(
            "[psa] status",
            f"{settings.status!r} is also in responded_statuses: a ticket created "
            "in it would stop the PSA's response clock at once",
        )
    return settings


def _check_known_keys(parser, klass):
    known = set(COMMON_KEYS) | set(klass.KEYS)
    if klass.TICKETING:
        known |= TICKET_KEYS
    for key in parser.options("psa"):
        if key not in known and key not in parser.defaults():
            raise ConfigError(
                f"[psa] {key}",
                f"unknown setting for type {klass.TYPE} "
                f"(known: {', '.join(sorted(known))})",
            )


def _url(parser, klass):
    url = cfg.get(
        parser, "psa", "url", klass.DEFAULT_URL, required=not klass.DEFAULT_URL
    )
    url = url.rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigError("[psa] url", f"{url!r} is not an http:// or https:// URL")
    return url


def _verify(parser):
    verify = cfg.get_bool(parser, "psa", "verify_tls", True)
    bundle = cfg.get(parser, "psa", "ca_bundle", "")
    if bundle:
        if not os.path.isfile(bundle):
            raise ConfigError("[psa] ca_bundle", f"{bundle}: no such file")
        if not verify:
            raise ConfigError("[psa] ca_bundle", "is set but verify_tls = no")
        return bundle
    return verify


def _interval(parser, key, default, allowed):
    if not allowed:
        return 0.0
    return cfg.get_float(parser, "psa", key, default, low=0)


def _priorities(parser):
    return {
        name: cfg.get(parser, "psa", f"priority_{name.lower()}", required=True)
        for name in PRIORITIES
    }


def _list(parser, key):
    raw = cfg.get(parser, "psa", key, "")
    return tuple(part.strip() for part in raw.split(",") if part.strip())
