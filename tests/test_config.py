"""The config loader names the bad setting in one line."""

import os

import pytest

from ari_app import config
from ari_app.exceptions import ConfigError

from .conftest import BASE_CONFIG, write_config


def load(tmp_path, text):
    return config.load_config(write_config(tmp_path, text))


def error_of(tmp_path, text):
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, text)
    return str(caught.value)


def test_defaults_fill_what_the_file_leaves_out(tmp_path):
    conf = load(tmp_path, BASE_CONFIG)
    assert conf.ari.app == "msp-intake"
    assert conf.triage.asks == 3
    assert conf.triage.default_priority == "P4"
    assert conf.prompts["greeting"] == "sound:msp-intake/greeting"


def test_missing_ari_section_is_named(tmp_path):
    assert error_of(tmp_path, "[store]\npath = /tmp/x\n") == "[ari]: section is missing"


def test_missing_password_is_named(tmp_path):
    text = "[ari]\nurl = http://127.0.0.1:8088\nusername = u\n"
    assert error_of(tmp_path, text) == "[ari] password: is required"


@pytest.mark.parametrize(
    "url", ["127.0.0.1:8088", "ftp://pbx", "http://", "http://pbx:99999"]
)
def test_bad_url_is_named(tmp_path, url):
    text = BASE_CONFIG.replace("http://127.0.0.1:8088", url)
    assert error_of(tmp_path, text).startswith("[ari] url:")


def test_url_with_ari_suffix_is_accepted(tmp_path):
    conf = load(tmp_path, BASE_CONFIG.replace(":8088", ":8088/ari/"))
    assert conf.ari.url == "http://127.0.0.1:8088"


def test_unreadable_and_missing_files(tmp_path):
    with pytest.raises(ConfigError, match="no such file"):
        config.load_config(str(tmp_path / "absent.conf"))
    path = write_config(tmp_path, BASE_CONFIG)
    os.chmod(path, 0)
    if os.geteuid() == 0:
        pytest.skip("root reads any file")
    with pytest.raises(ConfigError, match="not readable"):
        config.load_config(path)


def test_not_ini_is_named(tmp_path):
    assert "not a valid INI file" in error_of(tmp_path, "url = x\n")


def test_typos_in_values_are_named(tmp_path):
    assert error_of(tmp_path, BASE_CONFIG + "[triage]\nasks = three\n") == (
        "[triage] asks: 'three' is not a whole number"
    )
    assert error_of(tmp_path, BASE_CONFIG + "[triage]\nafter = transfer\n") == (
        "[triage] after: 'transfer' is not one of hangup, continue"
    )
    assert "default_region" in error_of(
        tmp_path, BASE_CONFIG + "[intake]\ndefault_region = XX\n"
    )
    assert "[prompts] greting" in error_of(
        tmp_path, BASE_CONFIG + "[prompts]\ngreting = sound:x\n"
    )


def test_priority_rules_come_from_the_file(tmp_path):
    text = BASE_CONFIG + (
        "[priority]\nrule2 = critical -> P1\nrule10 = users >= 50 -> P2\n"
        "rule1 = site_down -> P1\ndefault = P3\n"
    )
    conf = load(tmp_path, text)
    assert conf.triage.priority_rules == (
        ("site_down", "P1"),
        ("critical", "P1"),
        ("users >= 50", "P2"),
    )
    assert conf.triage.default_priority == "P3"


def test_bad_priority_rules_are_named(tmp_path):
    assert "'P7' is not P1..P4" in error_of(
        tmp_path, BASE_CONFIG + "[priority]\nrule1 = critical -> P7\n"
    )
    assert "unknown condition 'sitedown'" in error_of(
        tmp_path, BASE_CONFIG + "[priority]\nrule1 = sitedown -> P1\n"
    )
    assert "must read" in error_of(tmp_path, BASE_CONFIG + "[priority]\nrule1 = P1\n")


def test_the_shipped_sample_config_loads_for_every_part(tmp_path):
    """What `make install` puts in /etc/msp-intake works as it is."""
    from importlib import resources

    from ari_app.psa.component import make_component as psa_component
    from ari_app.sla import policies

    sample = resources.files("ari_app").joinpath("data/msp-intake.conf").read_text()
    conf = load(tmp_path, sample)
    assert conf.ari.password == "change-me"
    assert conf.timezone == "America/New_York"
    settings = policies.load_settings(conf)
    assert settings.default.target("P1").calendar.always_open
    assert psa_component(conf, store_worker=None) is None  # PSA off until enabled
