"""The msp-intake command as a sysadmin uses it: real processes, real files."""

import asyncio
import json
import re
import subprocess
import sys

import pytest

from ari_app import callflow, store

from .intake_helpers import (
    answering,
    new_fake,
    running_service,
    settle,
    start_service_process,
)

ISO_MS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def msp_intake(*args, check=False):
    result = subprocess.run(
        [sys.executable, "-m", "ari_app", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if check:
        assert result.returncode == 0, result.stderr
    return result


def config_file(tmp_path, url="http://127.0.0.1:8088", password="secret", extra=""):
    path = tmp_path / "msp-intake.conf"
    path.write_text(
        f"[ari]\nurl = {url}\nusername = msp-intake\npassword = {password}\n"
        f"[store]\npath = {tmp_path / 'intake.sqlite3'}\n{extra}"
    )
    return str(path)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[store]\npath = /tmp/x\n", "[ari]: section is missing"),
        ("[ari]\nurl = pbx:8088\nusername = u\npassword = p\n", "[ari] url:"),
        ("[ari]\nurl = http://127.0.0.1:8088\npassword = p\n", "[ari] username:"),
        ("this is not ini\n", "not a valid INI file"),
    ],
)
def test_bad_config_is_one_line_and_exit_2(tmp_path, text, expected):
    path = tmp_path / "bad.conf"
    path.write_text(text)
    result = msp_intake("-c", str(path), "run")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1, result.stderr
    assert expected in result.stderr


def test_missing_config_file(tmp_path):
    result = msp_intake("-c", str(tmp_path / "nope.conf"), "tickets")
    assert result.returncode == 2
    assert "nope.conf: no such file" in result.stderr


async def test_wrong_ari_password_stops_start_up(tmp_path):
    fake = new_fake()
    await fake.start()
    try:
        path = config_file(tmp_path, url=fake.url, password="wrong")
        process = await start_service_process(path, stderr=asyncio.subprocess.PIPE)
        _, stderr = await asyncio.wait_for(process.communicate(), 20)
    finally:
        await fake.stop()
    assert process.returncode == 2
    lines = stderr.decode().strip().splitlines()
    assert lines == [
        "msp-intake: [ari] username/password: Asterisk refused the "
        "ARI username or password"
    ]


def test_directory_import_reports_bad_rows_by_line(tmp_path):
    csv_path = tmp_path / "clients.csv"
    csv_path.write_text(
        "company,contact,phone\nAcme Dental,Dana,+1 555 201 0101\n"
        "Birch Law,Pat,call me\nBirch Law,,555 201 0202\n"
    )
    result = msp_intake(
        "-c", config_file(tmp_path), "directory", "import", str(csv_path)
    )
    assert result.returncode == 0
    assert (
        "1 new company(ies), 1 new contact(s); 2 row(s) skipped, 0 warning(s)"
        in result.stdout
    )
    assert f"{csv_path}:3: skipped: phone 'call me' is not a number" in result.stderr
    assert f"{csv_path}:4: skipped: empty contact" in result.stderr


def test_directory_import_of_a_missing_file(tmp_path):
    result = msp_intake(
        "-c", config_file(tmp_path), "directory", "import", str(tmp_path / "none.csv")
    )
    assert result.returncode == 2
    assert "none.csv: No such file or directory" in result.stderr


async def test_tickets_json_and_show(tmp_path):
    fake = new_fake(utc_offset="+0100")
    await fake.start()
    path = config_file(tmp_path, url=fake.url)
    store_path = str(tmp_path / "intake.sqlite3")
    try:
        async with running_service(fake, store_path) as service:
            call = await fake.place_call(answering(["1", "1", "9#"]))
            await call.wait_ended(timeout=10)
            await settle(service)
    finally:
        await fake.stop()
    store.close_store()
    listing = json.loads(msp_intake("-c", path, "tickets", "--json", check=True).stdout)
    (ticket,) = listing
    for key in (
        "id",
        "company",
        "caller_number",
        "priority",
        "status",
        "contact_at",
        "channel_id",
    ):
        assert key in ticket
    assert ticket["priority"] == "P1"
    assert ticket["channel_id"] == call.channel_id
    assert ISO_MS_Z.match(ticket["contact_at"])
    expected = callflow.parse_creationtime(call.creationtime)
    assert ticket["contact_at"] == expected.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    shown = msp_intake("-c", path, "tickets", "show", str(ticket["id"]), check=True)
    for kind in (
        "channel_created",
        "ticket_opened",
        "answered",
        "priority_set",
        "ended",
    ):
        assert kind in shown.stdout
    as_json = json.loads(
        msp_intake("-c", path, "tickets", "show", "MSP-1", "--json", check=True).stdout
    )
    assert [e["kind"] for e in as_json["timeline"]][:2] == [
        "channel_created",
        "ticket_opened",
    ]
    missing = msp_intake("-c", path, "tickets", "show", "MSP-99")
    assert missing.returncode == 2 and "no such ticket" in missing.stderr
    table = msp_intake("-c", path, "tickets", check=True).stdout
    assert "MSP-1" in table and "P1" in table


def test_demo_json_gives_the_bad_monday(tmp_path):
    result = msp_intake("demo", "--json", check=True)
    tickets = {t["company"]: t for t in json.loads(result.stdout)}
    assert {name: t["priority"] for name, t in tickets.items()} == {
        "Acme Dental": "P1",
        "Birch Law": "P4",
        "Cedar Clinic": "P3",
    }
    assert all(ISO_MS_Z.match(t["contact_at"]) for t in tickets.values())
    assert all(t["status"] == "open" for t in tickets.values())


def test_tickets_show_refuses_odd_numbers(tmp_path):
    path = config_file(tmp_path)
    for text in ("²", "MSP-١", "99999999999999999999999", "-1", "MSP-"):
        result = msp_intake("-c", path, "tickets", "show", text)
        assert result.returncode == 2, text
        assert result.stderr.count("\n") == 1, result.stderr
        assert "not a ticket number" in result.stderr
