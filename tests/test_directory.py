"""Caller ID normalization and the CSV directory import, on a real SQLite file."""

import pytest

from ari_app import directory, models
from ari_app.exceptions import DirectoryImportError
from ari_app.models import Company, Contact


@pytest.mark.parametrize(
    ("raw", "e164", "flag"),
    [
        ("+1 (555) 201-0101", "+15552010101", None),
        ("5552010101", "+15552010101", None),
        ("+44 20 7946 0018", "+442079460018", None),
        ("anonymous", None, models.WITHHELD_CALLER),
        ("", None, models.WITHHELD_CALLER),
        ("<unknown>", None, models.WITHHELD_CALLER),
        ("12", None, models.MALFORMED_CALLER),
        ("555-CALL-NOW-PLEASE-XYZ", None, models.MALFORMED_CALLER),
        ("';DROP TABLE", None, models.MALFORMED_CALLER),
    ],
)
def test_normalize(raw, e164, flag):
    caller = directory.normalize(raw, "US")
    assert (caller.e164, caller.flag, caller.raw) == (e164, flag, raw)


CSV = """company,contact,phone,email,support_number
Acme Dental,Dana Reyes,+1 555 201 0101,dana@acme.example,+1 555 100 0001
Acme Dental,Sam Ortiz,(555) 201-0102,,
Birch Law,Pat Kim,555 201 0202,pat@birch.example,555-100-0002
,Nobody,555 201 9999,,
Cedar Clinic,Robin,not-a-number,,
Cedar Clinic,Lee,555 201 0303,,bad support
"""


def test_import_keeps_good_rows_and_reports_bad_ones(opened_store, tmp_path):
    path = tmp_path / "directory.csv"
    path.write_text(CSV)
    report = directory.import_csv(str(path), "US")
    assert report.companies == 2
    assert report.contacts == 3
    assert report.skipped == [
        (5, "empty company"),
        (6, "phone 'not-a-number' is not a number"),
        (7, "support_number 'bad support' is not a number"),
    ]
    acme = Company.get(Company.name == "Acme Dental")
    assert acme.support_number == "+15551000001"
    assert Contact.get(Contact.phone == "+15552010102").company == acme


def test_import_twice_does_not_duplicate(opened_store, tmp_path):
    path = tmp_path / "directory.csv"
    path.write_text(CSV)
    directory.import_csv(str(path), "US")
    again = directory.import_csv(str(path), "US")
    assert (again.companies, again.contacts) == (0, 0)
    assert Contact.select().count() == 3


def test_header_without_required_columns(opened_store, tmp_path):
    path = tmp_path / "directory.csv"
    path.write_text("name,number\nAcme,555\n")
    with pytest.raises(DirectoryImportError, match="lacks column.*company"):
        directory.import_csv(str(path), "US")


def test_match_by_caller_then_by_support_number(opened_store, tmp_path):
    path = tmp_path / "directory.csv"
    path.write_text(CSV)
    directory.import_csv(str(path), "US")
    by_caller = directory.match_caller(
        directory.normalize("+15552010202", "US"), "5551000001", "US"
    )
    assert (by_caller.company.name, by_caller.matched_by) == ("Birch Law", "caller_id")
    by_line = directory.match_caller(
        directory.normalize("anonymous", "US"), "+1 555 100 0001", "US"
    )
    assert (by_line.company.name, by_line.contact, by_line.matched_by) == (
        "Acme Dental",
        None,
        "support_number",
    )
    nothing = directory.match_caller(directory.normalize("12", "US"), "", "US")
    assert nothing.company is None


def test_an_older_store_gains_new_columns(tmp_path):
    """A store written before a column existed opens, and gets the column."""
    import sqlite3

    from ari_app import store

    path = str(tmp_path / "old.sqlite3")
    store.open_store(path)
    store.close_store()
    connection = sqlite3.connect(path)
    connection.execute("DROP INDEX IF EXISTS ticket_priority")
    connection.execute("ALTER TABLE ticket DROP COLUMN priority")
    connection.commit()
    connection.close()
    store.open_store(path)
    try:
        columns = {c.name for c in models.database.get_columns("ticket")}
        indexes = {i.name: i.columns for i in models.database.get_indexes("ticket")}
    finally:
        store.close_store()
    assert "priority" in columns
    assert indexes["ticket_priority"] == ["priority"]


def test_the_directory_cache_follows_changes_from_other_writers(opened_store):
    """Another process changing the directory is seen by the call path."""
    company = Company.create(name="Acme Dental")
    caller = directory.normalize("+15552010101", "US")
    assert directory.match_caller(caller, "", "US").company is None
    Contact.create(company=company, name="Dana", phone="+15552010101")
    assert directory.match_caller(caller, "", "US").company.name == "Acme Dental"
    Contact.update(active=False).execute()
    assert directory.match_caller(caller, "", "US").company is None
