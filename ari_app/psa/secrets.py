"""The PSA credentials, read from their own file that only the service can read.

The main config names the file (``[psa] secrets``); it is INI, one section per
PSA type (``[connectwise]``, ``[autotask]``, ``[halo]``, ``[webhook]``). The
service refuses to start when the file is readable or writable by group or
others. Values are wrapped in ``Secret`` so a stray ``%s`` or ``repr`` prints
stars, never the credential.
"""

import configparser
import os
import stat

from ..exceptions import ConfigError


class Secret:
    """A credential that does not print itself."""

    __slots__ = ("_value",)

    def __init__(self, value):
        self._value = value

    def reveal(self):
        return self._value

    def __repr__(self):
        return "Secret('***')"

    __str__ = __repr__

    def __bool__(self):
        return bool(self._value)


def check_permissions(path, setting="[psa] secrets"):
    """Raise ConfigError unless ``path`` is a file only its owner can read."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise ConfigError(setting, f"{path}: no such file") from None
    except PermissionError:
        raise ConfigError(setting, f"{path}: not readable by this user") from None
    if not stat.S_ISREG(info.st_mode):
        raise ConfigError(setting, f"{path}: is not a regular file")
    loose = info.st_mode & (stat.S_IRWXG | stat.S_IRWXO)
    if loose:
        mode = stat.S_IMODE(info.st_mode)
        raise ConfigError(
            setting,
            f"{path} is open to group or others (mode {mode:04o}); "
            f"run: chmod 600 {path}",
        )


def load_secrets(path, section, keys, setting="[psa] secrets"):
    """Return ``{key: Secret}`` for the PSA's section; every key is required."""
    check_permissions(path, setting)
    parser = configparser.ConfigParser(interpolation=None)
    try:
        with open(path, encoding="utf-8") as handle:
            parser.read_file(handle)
    except PermissionError:
        raise ConfigError(setting, f"{path}: not readable by this user") from None
    except (configparser.Error, UnicodeDecodeError) as exc:
        first = str(exc).splitlines()[0]
        # The message names a line, never its value.
        raise ConfigError(setting, f"{path}: not a valid INI file ({first})") from None
    if not parser.has_section(section):
        raise ConfigError(f"{path} [{section}]", "section is missing")
    values = {}
    for key in keys:
        value = parser.get(section, key, fallback="").strip()
        if not value:
            raise ConfigError(f"{path} [{section}] {key}", "is required")
        values[key] = Secret(value)
    return values
