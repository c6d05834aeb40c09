"""The [speech] settings: defaults, the example file, and errors naming the setting."""

import configparser
import os
import re

import pytest

from ari_app.exceptions import ConfigError
from ari_app.speech import catalogue
from ari_app.speech.settings import DEFAULT_RAISE_WORDS, load_settings

EXAMPLE = os.path.join(
    os.path.dirname(catalogue.__file__), "..", "data", "msp-intake.conf"
)


def parse(text):
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    return parser


def test_the_example_file_shows_the_defaults():
    with open(EXAMPLE, encoding="utf-8") as handle:
        text = handle.read()
    settings = load_settings(parse(text))
    assert settings == load_settings(parse(""))
    assert settings.raise_words == DEFAULT_RAISE_WORDS
    # Every prompt text, shown commented out, is the one in the code.
    section = text.split("[prompt_texts]", 1)[1]
    shown = dict(re.findall(r"^;(\w+) = (.*)$", section, re.M))
    every = {**catalogue.DEFAULT_TEXTS, **catalogue.DYNAMIC_TEXTS}
    assert {k: v for k, v in shown.items() if k in every} == every


def test_texts_name_the_msp():
    settings = load_settings(parse("[speech]\nmsp_name = Northwind IT\n"))
    texts = {p.name: p.text for p in catalogue.build_catalogue(settings)}
    assert "Northwind IT" in texts["greeting"]
    assert catalogue.company_text(settings, "Acme Dental") == (
        "I have you as Acme Dental."
    )


@pytest.mark.parametrize(
    ("text", "setting"),
    [
        ("[speech]\nrate = fast\n", "[speech] rate"),
        ("[speech]\nmin_confidence = 2\n", "[speech] min_confidence"),
        ("[prompt_texts]\nhello = hi\n", "[prompt_texts] hello"),
        ("[speech_raise]\nP5 = oops\n", "[speech_raise] p5"),
    ],
)
def test_bad_settings_are_named(text, setting):
    with pytest.raises(ConfigError) as caught:
        load_settings(parse(text))
    assert caught.value.setting == setting


def test_a_bad_placeholder_is_named():
    settings = load_settings(parse("[prompt_texts]\ngreeting = Hi {company}\n"))
    with pytest.raises(ConfigError) as caught:
        catalogue.build_catalogue(settings)
    assert caught.value.setting == "[prompt_texts] greeting"
