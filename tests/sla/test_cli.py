"""The SLA commands through their argparse parser, against a real store file."""

import json

import pytest

from ari_app.exceptions import ConfigError
from ari_app.models import Company, Ticket
from ari_app.sla import cli, policies

from .conftest import SLA, make_ticket, utc


def run(config, *argv):
    args = cli.build_parser().parse_args(list(argv))
    return args.func(args, config)


def test_ack_records_the_first_response(db, config, capsys):
    ticket = make_ticket(utc("2026-11-17T15:15"), "P2")  # due 16:15Z
    # 10:40 without an offset is read in [sla] timezone (New York): 15:40Z.
    code = run(
        config, "ack", ticket.reference, "--by", "dana", "--at", "2026-11-17T10:40"
    )
    assert code == 0
    assert (
        "first response 2026-11-17T15:40:00.000Z by dana (met)"
        in capsys.readouterr().out
    )
    reloaded = Ticket.get_by_id(ticket.id)
    assert (reloaded.first_response_at, reloaded.first_response_via) == (
        utc("2026-11-17T15:40"),
        "cli",
    )


def test_ack_keeps_an_earlier_response(db, config, capsys):
    ticket = make_ticket(utc("2026-11-17T15:15"), "P2")
    run(config, "ack", str(ticket.id), "--by", "psa", "--at", "2026-11-17T15:20Z")
    run(config, "ack", str(ticket.id), "--by", "dana", "--at", "2026-11-17T15:30Z")
    assert "kept the earlier first response" in capsys.readouterr().out
    assert Ticket.get_by_id(ticket.id).first_response_by == "psa"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ack", "MSP-77", "--by", "dana"], "no ticket MSP-77"),
        (["ack", "1", "--by", "dana", "--at", "yesterday"], "is not a time"),
        (["sla", "report", "--from", "17/11/2026"], "is not a date"),
        (["sla", "report", "--from", "2026-11-30", "--to", "2026-11-01"], "after"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(db, config, capsys, argv, message):
    make_ticket(utc("2026-11-17T15:15"), "P2")
    assert run(config, *argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_sla_report_formats(db, config, capsys, tmp_path):
    ticket = make_ticket(utc("2026-11-17T15:15"), "P2")
    run(config, "ack", str(ticket.id), "--by", "dana", "--at", "2026-11-17T15:20Z")
    capsys.readouterr()
    period = ["--from", "2026-11-01", "--to", "2026-11-30"]
    assert run(config, "sla", "report", *period, "--format", "json") == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["overall"]["met"], data["overall"]["median_seconds"]) == (1, 300)
    out = tmp_path / "sla.html"
    assert (
        run(config, "sla", "report", *period, "--format", "html", "-o", str(out)) == 0
    )
    assert "<svg" in out.read_text()
    assert run(config, "report", "leak", *period, "--format", "json") == 0
    assert json.loads(capsys.readouterr().out.split("\n", 1)[1])["clients"] == []


@pytest.mark.parametrize(
    ("change", "setting"),
    [
        ("[sla]\ntimezone = Mars/Olympus\n", "[sla] timezone"),
        ("[sla]\np3_first_response = soon\n", "[sla] p3_first_response"),
        ("[sla]\np2_calendar = nights\n", "[sla] p2_calendar"),
        ("[sla.calendar x]\nhours = mon-fri 17:00-09:00\n", "[sla.calendar x] hours"),
        ("[sla.calendar x]\nholidays = XX\n", "[sla.calendar x] holidays"),
        ("[sla.contract Zed]\nrenewal = Smarch\n", "[sla.contract Zed] renewal"),
        ("[sla]\nat_risk_share = 1.5\n", "[sla] at_risk_share"),
    ],
)
def test_a_bad_setting_names_itself(write_sla_config, change, setting):
    config = write_sla_config(change)
    with pytest.raises(ConfigError) as caught:
        policies.load_settings(config)
    assert caught.value.setting == setting


def test_contracts_inherit_and_override(write_sla_config):
    settings = policies.load_settings(
        write_sla_config(SLA + "\n[sla.contract Fast Co]\np3_first_response = 1h\n")
    )
    fast = settings.policy_for("FAST CO")
    assert fast.target("P3").first_response_seconds() == 3600
    assert fast.target("P2").first_response_seconds() == 3600
    assert fast.target("P1").calendar.always_open


@pytest.mark.parametrize(
    ("status", "words"),
    [
        ("abandoned", "no SLA clock: the caller hung up before triage"),
        ("open", "no SLA clock: the ticket has no priority"),
    ],
)
def test_ack_without_a_clock_says_so_in_words(db, config, capsys, status, words):
    ticket = make_ticket(utc("2026-11-17T15:15"), None, status=status)
    assert run(config, "ack", str(ticket.id), "--by", "bob") == 0
    out = capsys.readouterr().out
    assert f"by bob ({words})" in out and "None" not in out


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ack", "1", "--by", "   "], "needs the name of who responded"),
        (["ack", "99999999999999999999999", "--by", "dana"], "no ticket MSP-9999"),
        (["ack", "²", "--by", "dana"], "is not a ticket number"),
        (["ack", "MSP-١", "--by", "dana"], "is not a ticket number"),
    ],
)
def test_bad_ack_is_one_line_and_exit_2(db, config, capsys, argv, message):
    make_ticket(utc("2026-11-17T15:15"), "P2")
    assert run(config, *argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert Ticket.get_by_id(1).first_response_by is None


@pytest.mark.parametrize("command", [["sla", "report"], ["report", "leak"]])
@pytest.mark.parametrize(
    "dates",
    [
        ["--to", "9999-12-31"],
        ["--from", "0001-01-01"],
        ["--to", "0001-01-05"],
        ["--from", "9999-12-31", "--to", "9999-12-31"],
    ],
)
def test_extreme_dates_are_one_line_and_exit_2(db, config, capsys, command, dates):
    assert run(config, *command, *dates) == 2
    err = capsys.readouterr().err
    assert "is out of range" in err and err.count("\n") == 1


@pytest.mark.parametrize("command", [["sla", "report"], ["report", "leak"]])
def test_the_widest_period_still_reports(db, config, capsys, command):
    period = ["--from", "1900-01-01", "--to", "9998-12-31"]
    assert run(config, *command, *period, "--format", "json") == 0


@pytest.mark.parametrize("command", [["sla", "report"], ["report", "leak"]])
def test_an_unknown_client_is_one_line_and_exit_2(db, config, capsys, command):
    assert run(config, *command, "--company", "Nope") == 2
    assert capsys.readouterr().err == "msp-intake: no such client: Nope\n"


def test_the_client_is_matched_ignoring_case_not_as_a_pattern(
    db, config, companies, capsys
):
    make_ticket(utc("2026-11-17T15:15"), "P2", company=companies["Acme Dental"])
    period = ["--from", "2026-11-01", "--to", "2026-11-30", "--format", "json"]
    assert run(config, "sla", "report", *period, "--company", " acme DENTAL ") == 0
    assert json.loads(capsys.readouterr().out)["overall"]["tickets"] == 1
    # A LIKE pattern used to match "Acme%" to Acme Dental.
    assert run(config, "sla", "report", *period, "--company", "Acme%") == 2


def test_sla_report_warns_of_a_contract_for_no_known_client(db, config, capsys):
    Company.create(name="london law")
    assert run(config, "sla", "report") == 0
    assert capsys.readouterr().err == (
        "msp-intake: warning: [sla.contract Acme Dental]: no such client in the "
        "directory; its terms apply to no call until one is imported\n"
    )


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("sla", "p1_first_responce"),
        ("sla", "frobnicate"),
        ("sla.calendar biz", "hour"),
        ("sla.contract Acme", "p3_resolutoin"),
        ("sla.leak", "monthly_valu"),
    ],
)
def test_a_misspelt_sla_setting_stops_start_up(write_sla_config, section, key):
    config = write_sla_config(f"\n[{section}]\n{key} = 1\n")
    with pytest.raises(ConfigError) as caught:
        policies.load_settings(config)
    assert caught.value.setting == f"[{section}] {key}"
