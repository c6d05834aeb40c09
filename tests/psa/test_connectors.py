"""Each connector against its PSA double: create, update, lookup, read-back."""

import datetime
import logging

import pytest

from ari_app import config
from ari_app.directory import CallerId, match_caller
from ari_app.exceptions import ConfigError
from ari_app.models import Company, Contact
from ari_app.psa import component, directory_sync, first_response
from ari_app.psa.connectors import make_connector
from ari_app.psa.models import PsaLink
from ari_app.psa.settings import load_settings

from .helpers import (
    SECRET_VALUES,
    drain,
    load,
    make_worker,
    new_ticket,
    triage,
    write_config,
)


def test_create_then_update_reaches_one_psa_ticket(tmp_path, psa_store, any_psa):
    kind, double = any_psa
    worker = make_worker(load(tmp_path, kind, double.url))
    ticket = new_ticket(1)
    drain(worker)
    triage(ticket.id, "P1", transcript="the file server is down")
    drain(worker)

    assert len(double.creates) == 1 and double.duplicates() == 0
    link = PsaLink.get(PsaLink.ticket == ticket.id)
    if kind == "webhook":
        kinds = [event["event"] for event in double.events]
        assert kinds == ["ticket.created", "ticket.updated"]
        assert double.events[1]["priority_changed"] == "P1"
        return
    psa_ticket = double.tickets[int(link.psa_ticket_id)]
    priority = {
        "connectwise": "priority_id",
        "autotask": "priority",
        "halo": "priority_id",
    }[kind]
    assert psa_ticket[priority] == {"connectwise": 1, "autotask": 4, "halo": 1}[kind]
    texts = [text for psa_id, text in double.notes]
    assert any("whole site down: yes" in t for t in texts)
    assert any("the file server is down" in t for t in texts)


def test_lookup_finds_the_ticket_by_our_reference(tmp_path, psa_store, any_psa):
    kind, double = any_psa
    if kind == "webhook":
        pytest.skip("a webhook cannot be asked; it drops repeated delivery ids")
    connector = make_connector(load_settings(load(tmp_path, kind, double.url)))
    first, other = new_ticket(1), new_ticket(12)
    assert connector.find(first) is None
    psa_id = connector.create(first, delivery="x")
    connector.create(other, delivery="y")  # MSP-12 must not match MSP-1
    assert connector.find(first) == psa_id


def test_webhook_repeat_is_dropped_by_delivery_id(tmp_path, psa_store):
    from ari_app.doubles.psa_webhook import WebhookDouble

    with WebhookDouble() as double:
        connector = make_connector(load_settings(load(tmp_path, "webhook", double.url)))
        ticket = new_ticket(1)
        connector.create(ticket, delivery="MSP-1:created")
        connector.create(ticket, delivery="MSP-1:created")
        assert len(double.events) == 1 and double.deliveries["MSP-1:created"] == 2


def test_first_response_is_read_back(tmp_path, psa_store, any_psa):
    kind, double = any_psa
    if kind == "webhook":
        pytest.skip("a webhook does not report responses")
    seen = []
    first_response.set_sink(lambda *args: seen.append(args))
    try:
        worker = make_worker(load(tmp_path, kind, double.url))
        ticket = triage(new_ticket(1).id)
        drain(worker)
        worker.read_responses()
        assert seen == []
        link = PsaLink.get(PsaLink.ticket == ticket.id)
        double.respond(link.psa_ticket_id)
        worker.read_responses()
        worker.read_responses()  # recorded once only
    finally:
        first_response.set_sink(None)
    assert len(seen) == 1
    ticket_id, at, by, via = seen[0]
    assert ticket_id == ticket.id and via == "psa" and at is not None
    assert PsaLink.get(PsaLink.ticket == ticket.id).first_response_at is not None


def test_halo_token_is_cached_and_renewed(tmp_path, psa_store):
    from ari_app.doubles.psa_halo import HaloDouble

    with HaloDouble(token_lifetime=3600) as double:
        worker = make_worker(load(tmp_path, "halo", double.url))
        for number in range(3):
            new_ticket(number)
        drain(worker)
        assert double.token_requests == 1
        double.tokens.clear()  # Halo forgets the token: a 401, then a new one
        triage(1)
        drain(worker)
        assert double.token_requests == 2


@pytest.mark.parametrize("kind", ["connectwise", "autotask", "halo"])
def test_directory_sync_adds_and_retires_contacts(tmp_path, psa_store, kind):
    from .conftest import DOUBLES

    with DOUBLES[kind]() as double:
        double.add_company(7, "Acme Dental")
        double.add_contact(
            70,
            7,
            "Dana",
            "Reyes",
            ["(415) 555-0134", "415-555-0199"],
            "dana@acme.example",
        )
        double.add_contact(71, 7, "Lee", "Wong", ["+1 415 555 0150"])
        Company.create(name="Acme Dental")  # imported from CSV before
        conf = load(tmp_path, kind, double.url)
        connector = make_connector(load_settings(conf))
        report = directory_sync.run(connector, "US", full=True)
        assert report.contacts == 3
        assert Company.select().where(Company.name == "Acme Dental").count() == 1
        caller = CallerId("4155550199", "+14155550199", None)
        assert match_caller(caller, "", "US").contact.name == "Dana Reyes"

        # Lee leaves Acme: deleted in the PSA. Dana is marked inactive.
        del double.contacts[71]
        double.add_contact(70, 7, "Dana", "Reyes", ["(415) 555-0134"], active=False)
        directory_sync.run(connector, "US", full=True)
        gone = CallerId("+14155550150", "+14155550150", None)
        assert match_caller(gone, "", "US").contact is None
        assert match_caller(caller, "", "US").contact is None
        assert not Contact.select().where(Contact.active).count()


def test_incremental_directory_sync_takes_only_changes(tmp_path, psa_store, cw):
    cw.add_company(7, "Acme Dental")
    cw.add_contact(70, 7, "Dana", "Reyes", ["(415) 555-0134"])
    cw.contacts[70]["updated"] -= datetime.timedelta(hours=1)  # an old contact
    connector = make_connector(load_settings(load(tmp_path, "connectwise", cw.url)))
    directory_sync.run(connector, "US", full=True)
    cw.add_contact(72, 7, "Sam", "Ortiz", ["(415) 555-0177"])
    report = directory_sync.run(connector, "US")
    assert not report.full and report.contacts == 1
    assert Contact.select().where(Contact.active).count() == 2


def test_world_readable_secrets_stop_start_up(tmp_path, cw):
    conf = load(tmp_path, "connectwise", cw.url, mode=0o644)
    with pytest.raises(ConfigError) as caught:
        component.make_component(conf, store_worker=None)
    assert caught.value.setting == "[psa] secrets"
    assert "chmod 600" in str(caught.value)


def test_a_typo_in_psa_settings_names_the_setting(tmp_path, cw):
    conf = load(tmp_path, "connectwise", cw.url, extra="prority_p1 = 1\n")
    with pytest.raises(ConfigError) as caught:
        component.make_component(conf, store_worker=None)
    assert caught.value.setting == "[psa] prority_p1"


def test_creating_in_a_responded_status_is_refused(tmp_path, cw):
    path = write_config(tmp_path, "connectwise", cw.url)
    conf = config.load_config(path, overrides={"psa.responded_statuses": "New, Done"})
    with pytest.raises(ConfigError) as caught:
        load_settings(conf)
    assert caught.value.setting == "[psa] status"


def test_no_psa_section_means_sync_off(base_config):
    assert component.make_component(base_config, store_worker=None) is None


def test_no_secret_or_authorization_header_in_logs(tmp_path, psa_store, caplog):
    from .conftest import DOUBLES

    caplog.set_level(logging.DEBUG)  # urllib3 and requests included
    for index, (kind, klass) in enumerate(sorted(DOUBLES.items())):
        with klass() as double:
            directory = tmp_path / kind
            directory.mkdir()
            worker = make_worker(load(directory, kind, double.url))
            ticket = new_ticket(index)
            double.fail(401)
            drain(worker)
            triage(ticket.id)
            drain(worker)
            assert double.creates
    text = caplog.text + repr([r.args for r in caplog.records])
    assert "psa connectwise POST /service/tickets" in text  # logging did happen
    for secret in SECRET_VALUES:
        assert secret not in text, secret
    assert "Authorization" not in text and "Basic " not in text and "Bearer" not in text


def test_first_response_reaches_the_sla_clock(tmp_path, psa_store, cw):
    """No sink set: the default is ari_app.sla.services.record_first_response."""
    from ari_app.models import Ticket

    worker = make_worker(load(tmp_path, "connectwise", cw.url))
    ticket = triage(new_ticket(1).id)
    drain(worker)
    cw.respond(PsaLink.get(PsaLink.ticket == ticket.id).psa_ticket_id, by="kim")
    worker.read_responses()
    recorded = Ticket.get_by_id(ticket.id)
    assert recorded.first_response_at is not None
    assert recorded.first_response_via == "psa"
    assert recorded.first_response_at >= recorded.contact_at


@pytest.mark.parametrize(
    "kind, line", [("halo", "status = New"), ("autotask", "priority_p1 = High")]
)
def test_a_name_where_the_psa_takes_a_number_stops_start_up(tmp_path, kind, line):
    setting = line.split(" ")[0]
    conf = load(tmp_path, kind, "http://127.0.0.1:9", extra=line + "\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(conf)
    assert f"[psa] {setting}" in str(caught.value)


def test_another_installations_ticket_is_not_taken_for_ours(
    tmp_path, psa_store, any_psa
):
    """A reinstall (or a second PBX) on the same PSA starts again at MSP-1: the
    lookup must not attach our new MSP-1 to the old one."""
    from ari_app.psa import models as psa_models
    from ari_app.psa import reference

    kind, double = any_psa
    if kind == "webhook":
        pytest.skip("a webhook cannot be asked")
    connector = make_connector(load_settings(load(tmp_path, kind, double.url)))
    ticket = new_ticket(1)
    psa_models.set_state("installation_id", "0ld1n5t0")
    reference._cached = None
    old = connector.create(ticket, delivery="old")
    assert connector.find(ticket) == old  # the old installation finds its own
    psa_models.delete_state("installation_id")
    reference._cached = None
    assert connector.find(ticket) is None  # we are a new installation
    assert reference.external_reference(ticket) != "MSP-1-0ld1n5t0"
    assert reference.external_reference(ticket).startswith("MSP-1-")


def test_tls_settings_win_over_the_environment(monkeypatch):
    """REQUESTS_CA_BUNDLE in the environment must not override the config's
    choice. requests' own merge is what decides; no HTTPS server is needed."""
    from ari_app.psa.http import PsaHttp

    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    for choice in (False, "/etc/msp-intake/psa-ca.pem"):
        http = PsaHttp("test", "https://psa.example", timeout=1, verify=choice)
        settings = http.session.merge_environment_settings(
            "https://psa.example/x", {}, None, http.verify, None
        )
        assert settings["verify"] == choice
        http.close()
