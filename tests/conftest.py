"""Shared fixtures: a real SQLite file per test, and config built for tests."""

import pytest

from ari_app import config, store


@pytest.fixture
def db_path(tmp_path):
    return str(tmp_path / "intake.sqlite3")


@pytest.fixture
async def fake():
    """The Asterisk test double on 127.0.0.1, in the PBX zone -0500."""
    from .intake_helpers import new_fake

    fake = new_fake(utc_offset="-0500")
    await fake.start()
    yield fake
    await fake.stop()


@pytest.fixture
def store_path(tmp_path):
    return str(tmp_path / "intake.sqlite3")


@pytest.fixture
def opened_store(db_path):
    store.open_store(db_path)
    yield db_path
    store.close_store()


def write_config(tmp_path, text):
    path = tmp_path / "msp-intake.conf"
    path.write_text(text)
    return str(path)


BASE_CONFIG = """
[ari]
url = http://127.0.0.1:8088
username = msp-intake
password = secret
"""


@pytest.fixture
def base_config(tmp_path):
    return config.load_config(write_config(tmp_path, BASE_CONFIG))
