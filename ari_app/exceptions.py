"""Errors raised by msp-intake.

    MspIntakeError              the base of everything below
    +-- ConfigError             a setting is missing or malformed (names it)
    +-- DirectoryImportError    a directory CSV cannot be read at all
    +-- AriError                Asterisk answered a REST call with an error
        +-- ChannelGone         the channel hung up (ARI 404): a normal event
        +-- NotInStasis         the channel left the application (ARI 409)
    +-- AriAuthError            Asterisk refused our ARI credentials

Dependencies' exceptions (aiohttp, peewee) are translated into these at the
module that talks to the dependency, with ``raise ... from exc``.
"""


class MspIntakeError(Exception):
    """Base of every msp-intake error."""


class ConfigError(MspIntakeError):
    """A configuration setting is missing or malformed."""

    def __init__(self, setting, problem):
        self.setting = setting
        self.problem = problem
        super().__init__(f"{setting}: {problem}")


class DirectoryImportError(MspIntakeError):
    """A directory file cannot be read at all (missing, no header...)."""


class AriError(MspIntakeError):
    """Asterisk answered an ARI REST call with an error status."""

    def __init__(self, method, path, status, message):
        self.method = method
        self.path = path
        self.status = status
        self.message = message
        super().__init__(f"{method} {path}: {status} {message}")


class ChannelGone(AriError):
    """The channel no longer exists: the caller hung up. Not a failure."""


class NotInStasis(AriError):
    """The channel exists but is no longer in this Stasis application."""


class AriAuthError(MspIntakeError):
    """Asterisk rejected the configured ARI username or password."""
