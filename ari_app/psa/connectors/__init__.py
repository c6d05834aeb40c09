"""One connector per PSA, all with the interface of ``base.Connector``."""

from ...exceptions import ConfigError


def connector_class(kind):
    from .autotask import AutotaskConnector
    from .connectwise import ConnectWiseConnector
    from .halo import HaloConnector
    from .webhook import WebhookConnector

    classes = {
        "connectwise": ConnectWiseConnector,
        "autotask": AutotaskConnector,
        "halo": HaloConnector,
        "webhook": WebhookConnector,
    }
    try:
        return classes[kind]
    except KeyError:
        raise ConfigError("[psa] type", f"{kind!r} has no connector") from None


def make_connector(settings):
    return connector_class(settings.type)(settings)
