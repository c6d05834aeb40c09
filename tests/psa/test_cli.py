"""``msp-intake sync status|retry|test`` and ``directory sync``, through main()."""

from ari_app import cli, store
from ari_app.models import Company
from ari_app.psa import outbox
from ari_app.psa.models import set_state

from .helpers import drain, load, make_worker, new_ticket, write_config


def _park_one(tmp_path, cw):
    db = str(tmp_path / "intake.sqlite3")
    store.open_store(db)
    try:
        worker = make_worker(load(tmp_path, "connectwise", cw.url))
        gone = Company.create(name="Gone Ltd", source="connectwise", external_id="999")
        new_ticket(1, company=gone)
        new_ticket(2)
        drain(worker)
    finally:
        outbox.uninstall()
        store.close_store()


def test_status_shows_the_parked_ticket_and_the_psa_error(tmp_path, cw, capsys):
    _park_one(tmp_path, cw)
    path = write_config(tmp_path, "connectwise", cw.url)
    assert cli.main(["-c", path, "sync", "status"]) == 0
    out = capsys.readouterr().out
    assert "tickets waiting: queued 0, retrying 0, parked 1 (1 change(s))" in out
    assert "MSP-1" in out and "company: Company not found." in out


def test_retry_requeues_the_parked_ticket(tmp_path, cw, capsys):
    _park_one(tmp_path, cw)
    path = write_config(tmp_path, "connectwise", cw.url)
    assert cli.main(["-c", path, "sync", "retry"]) == 0
    assert "requeued 1 parked change(s)" in capsys.readouterr().out
    cli.main(["-c", path, "sync", "status"])
    assert "retrying 1, parked 0" in capsys.readouterr().out


def test_sync_test_names_each_bad_value_on_one_line(tmp_path, cw, capsys):
    path = write_config(tmp_path, "connectwise", cw.url)
    assert cli.main(["-c", path, "sync", "test"]) == 0
    assert "credentials accepted" in capsys.readouterr().out
    cw.priorities.pop(4)
    cw.sources.clear()
    assert cli.main(["-c", path, "sync", "test"]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("[psa] priority_p4 = 4: not known to the PSA")
    assert lines[1].startswith("[psa] source = Phone: not known to the PSA")


def test_sync_test_with_refused_credentials_is_one_line(tmp_path, cw, capsys):
    cw.client_id = "another-integration"
    path = write_config(tmp_path, "connectwise", cw.url)
    assert cli.main(["-c", path, "sync", "test"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "401" in err[0]


def test_directory_sync_command(tmp_path, cw, capsys):
    cw.add_company(7, "Acme Dental")
    cw.add_contact(70, 7, "Dana", "Reyes", ["(415) 555-0134"])
    path = write_config(tmp_path, "connectwise", cw.url)
    assert cli.main(["-c", path, "directory", "sync", "--full"]) == 0
    assert "full sync from connectwise: 2 companies, 1 contact numbers" in (
        capsys.readouterr().out
    )


def test_world_readable_secrets_are_refused_by_the_commands(tmp_path, cw, capsys):
    path = write_config(tmp_path, "connectwise", cw.url, mode=0o640)
    assert cli.main(["-c", path, "sync", "test"]) == 2
    err = capsys.readouterr().err
    assert "[psa] secrets" in err and "chmod 600" in err


def test_demo_psa_overrides_make_a_working_component(tmp_path):
    from ari_app import config
    from ari_app.doubles.psa_connectwise import start_demo_psa
    from ari_app.psa.settings import load_settings

    double, overrides = start_demo_psa(str(tmp_path))
    try:
        overrides.update(
            {
                "ari.url": "http://127.0.0.1:8088",
                "ari.username": "a",
                "ari.password": "b",
            }
        )
        settings = load_settings(config.load_config(overrides=overrides))
        assert settings.url == double.url and settings.type == "connectwise"
    finally:
        double.stop()


def test_status_and_retry_say_when_the_sync_worker_is_not_running(tmp_path, cw, capsys):
    _park_one(tmp_path, cw)  # the worker ran just now
    path = write_config(tmp_path, "connectwise", cw.url)
    assert cli.main(["-c", path, "sync", "status"]) == 0
    assert "sync worker: running, last seen" in capsys.readouterr().out

    store.open_store(str(tmp_path / "intake.sqlite3"))
    set_state("worker_seen_at", "2020-01-01T00:00:00")  # it stopped long ago
    store.close_store()
    cli.main(["-c", path, "sync", "status"])
    assert "sync worker: NOT RUNNING, last seen 2020-01-01" in capsys.readouterr().out
    assert cli.main(["-c", path, "sync", "retry"]) == 0
    out = capsys.readouterr().out
    assert "does not seem to be running" in out and "sends them now" not in out
