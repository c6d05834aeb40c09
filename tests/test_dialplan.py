"""The shipped dialplan and config agree with each other and with the app."""

import configparser
import re
from importlib import resources

from ari_app import config

DIALPLAN = "dialplan/msp-intake.conf"


def dialplan():
    with open(DIALPLAN, encoding="utf-8") as handle:
        return handle.read()


def contexts(text):
    return set(re.findall(r"^\[([\w-]+)\]", text, re.M)) - {"globals"}


def test_every_goto_lands_in_a_context_that_exists():
    text = dialplan()
    known = contexts(text)
    targets = set(re.findall(r"Goto\(([\w-]+),", text))
    assert targets <= known, targets - known


def test_the_app_sends_calls_to_contexts_the_dialplan_has():
    sample = resources.files("ari_app").joinpath("data/msp-intake.conf").read_text()
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(sample)
    conf = config.load_config(
        overrides={
            f"{s}.{k}": v
            for s in parser.sections()
            for k, v in parser[s].items()
            if s in ("ari", "triage")
        }
    )
    known = contexts(dialplan())
    assert conf.triage.continue_context in known
    assert conf.triage.failure_context in known


def test_stasis_gets_the_app_name_and_the_dialed_number():
    text = dialplan()
    assert "MSP_APP=msp-intake" in text
    (stasis,) = re.findall(r"^\s*(?:exten|same) =>.*?Stasis\(([^)]*)\)", text, re.M)
    assert stasis == "${MSP_APP},inbound,${MSP_DIALED}"
    # National digits, E.164 with a plus, "s" and anything else all get there.
    for pattern in ("_X.", "_+X.", "s", "i"):
        assert re.search(
            rf"^exten => {re.escape(pattern)},1,Set\(MSP_DIALED=", text, re.M
        ), pattern
