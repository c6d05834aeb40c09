"""``directory import`` edge cases from the field: Excel files, shared support
numbers, names typed three ways, and a large file next to a running service."""

import sqlite3

import pytest

from ari_app import directory
from ari_app.exceptions import DirectoryImportError
from ari_app.models import Company, Contact


def write(tmp_path, text, encoding="utf-8"):
    path = tmp_path / "directory.csv"
    path.write_bytes(text.encode(encoding))
    return str(path)


@pytest.mark.parametrize("rows", [1, 3000])
def test_a_cp1252_file_is_one_line_naming_it(opened_store, tmp_path, rows):
    # What Excel on Windows writes for "CSV (Comma delimited)".
    good = "".join(f"Co{i},Ann,+1555300{i:04d}\n" for i in range(rows - 1))
    path = write(
        tmp_path, f"company,contact,phone\n{good}Acmé,Ann,+15552010105\n", "cp1252"
    )
    with pytest.raises(DirectoryImportError) as caught:
        directory.import_csv(path, "US")
    assert str(caught.value) == (
        f"{path}:{rows + 1}: not UTF-8 text (save it as 'CSV UTF-8')"
    )
    assert Company.select().count() == 0  # nothing half-imported


def test_a_non_utf8_header_is_one_line_too(opened_store, tmp_path):
    path = write(tmp_path, "société,contact,phone\n", "cp1252")
    with pytest.raises(DirectoryImportError, match=r":1: not UTF-8 text"):
        directory.import_csv(path, "US")


def test_company_names_ignore_case_and_spaces(opened_store, tmp_path):
    Company.create(name="Acme")
    path = write(
        tmp_path,
        "company,contact,phone\n acme ,Zed,+15552010301\nACME,Zoe,+15552010302\n"
        "Birch Law,Bo,+15552010303\nbirch law,Bea,+15552010304\n",
    )
    report = directory.import_csv(path, "US")
    assert (report.companies, report.contacts) == (1, 4)
    assert [c.name for c in Company.select().order_by(Company.id)] == [
        "Acme",
        "Birch Law",
    ]


SUPPORT = "company,contact,phone,support_number\n"


def test_a_support_number_is_not_moved_from_its_company(opened_store, tmp_path):
    directory.import_csv(
        write(tmp_path, SUPPORT + "Acme,Ann,+15552010101,+15551000001\n"), "US"
    )
    report = directory.import_csv(
        write(tmp_path, SUPPORT + "Birch,Bo,+15552010201,+15551000001\n"), "US"
    )
    assert report.warnings == [
        (
            2,
            "support_number +15551000001 is Acme's in the directory; "
            "Birch keeps none (contact imported)",
        )
    ]
    assert Company.get(Company.name == "Acme").support_number == "+15551000001"
    assert Company.get(Company.name == "Birch").support_number is None
    assert Contact.get(Contact.phone == "+15552010201").company.name == "Birch"


def test_one_file_gives_a_support_number_once(opened_store, tmp_path):
    path = write(
        tmp_path,
        SUPPORT + "Acme,Ann,+15552010101,+15551000000\n"
        "Acme,Bob,+15552010199,+15551000001\n"
        "Birch,Bo,+15552010201,+15551000000\n",
    )
    report = directory.import_csv(path, "US")
    assert report.warnings == [
        (
            3,
            "Acme already has support_number +15551000000 (line 2); "
            "+15551000001 not set (contact imported)",
        ),
        (
            4,
            "support_number +15551000000 is Acme's (line 2); "
            "Birch keeps none (contact imported)",
        ),
    ]
    assert report.contacts == 3
    assert Company.get(Company.name == "Acme").support_number == "+15551000000"
    assert Company.get(Company.name == "Birch").support_number is None


def test_a_company_changing_its_own_number_is_reported(opened_store, tmp_path):
    directory.import_csv(
        write(tmp_path, SUPPORT + "Acme,Ann,+15552010101,+15551000000\n"), "US"
    )
    report = directory.import_csv(
        write(tmp_path, SUPPORT + "Acme,Ann,+15552010101,+15551000001\n"), "US"
    )
    assert report.warnings == [
        (2, "Acme: support_number changed from +15551000000 to +15551000001")
    ]
    assert Company.get(Company.name == "Acme").support_number == "+15551000001"


def test_a_large_import_lets_other_writers_in_between_chunks(
    opened_store, tmp_path, monkeypatch
):
    """The service must be able to commit a new call's ticket during an import:
    between two chunks another connection gets the write lock at once."""
    monkeypatch.setattr(directory, "CHUNK_ROWS", 2)
    other = sqlite3.connect(opened_store, timeout=0, isolation_level=None)
    commits = []

    def between_chunks(seconds):
        other.execute("BEGIN IMMEDIATE")  # raises "database is locked" if held
        other.execute("COMMIT")
        commits.append(seconds)

    monkeypatch.setattr(directory.time, "sleep", between_chunks)
    rows = "".join(f"Co{i % 2},P{i},+1555300{i:04d}\n" for i in range(5))
    path = write(tmp_path, "company,contact,phone\n" + rows + "Co0,P0b,+15553000000\n")
    report = directory.import_csv(path, "US")
    other.close()
    assert len(commits) == 2  # 6 rows in 3 chunks
    assert (report.companies, report.contacts, report.skipped) == (2, 5, [])
    assert Contact.get(Contact.phone == "+15553000000").name == "P0b"
