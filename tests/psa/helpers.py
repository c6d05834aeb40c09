"""Config, tickets and a synchronous drain for the PSA sync tests."""

import datetime
import os
import time

from ari_app import config, store
from ari_app.models import utcnow
from ari_app.psa import outbox
from ari_app.psa.connectors import make_connector
from ari_app.psa.models import PENDING, OutboxItem
from ari_app.psa.settings import load_settings
from ari_app.psa.worker import SyncWorker

BASE = """
[ari]
url = http://127.0.0.1:8088
username = msp-intake
password = secret

[store]
path = {store}
"""

# Short timeouts and backoff so a test sees several retries in well under a second.
FAST = """
timeout = 0.5
create_holdoff = 0.05
backoff_initial = 0.02
backoff_max = 0.1
response_poll = 0
directory_interval = 0
"""

PSA = {
    "connectwise": (
        """type = connectwise
company_id = msp
board = Help Desk
status = New
responded_statuses = Responded
priority_p1 = 1
priority_p2 = 2
priority_p3 = 3
priority_p4 = 4
unmatched_company = Catchall
""",
        "[connectwise]\npublic_key = pub\nprivate_key = priv\nclient_id = client-1\n",
    ),
    "autotask": (
        """type = autotask
status = 1
responded_statuses = 8
priority_p1 = 4
priority_p2 = 1
priority_p3 = 2
priority_p4 = 3
queue = 29683354
source = 2
unmatched_company = 0
""",
        "[autotask]\nusername = api@msp.example\nsecret = s3cret\n"
        "integration_code = INTCODE\n",
    ),
    "halo": (
        """type = halo
tenant = msp
status = 1
responded_statuses = 3
priority_p1 = 1
priority_p2 = 2
priority_p3 = 3
priority_p4 = 4
ticket_type = 1
unmatched_company = 12
""",
        "[halo]\nclient_id = halo-client\nclient_secret = halo-secret\n",
    ),
    "webhook": ("type = webhook\n", "[webhook]\nsigning_key = webhook-key\n"),
}

SECRET_VALUES = (
    "pub",
    "priv",
    "client-1",
    "s3cret",
    "INTCODE",
    "halo-secret",
    "webhook-key",
)


def write_config(tmp_path, kind, url, extra="", mode=0o600, store_path=None):
    psa, secrets = PSA[kind]
    secrets_path = tmp_path / "secrets.conf"
    secrets_path.write_text(secrets)
    os.chmod(secrets_path, mode)
    if kind == "autotask":
        url = url + "/ATServicesRest"
    text = BASE.format(store=store_path or tmp_path / "intake.sqlite3")
    # A setting in ``extra`` replaces the same one in the PSA's text or FAST.
    overridden = {line.split("=")[0].strip() for line in extra.splitlines() if line}
    psa, fast = (
        "".join(
            f"{line}\n"
            for line in text.splitlines()
            if line and line.split("=")[0].strip() not in overridden
        )
        for text in (psa, FAST)
    )
    text += f"\n[psa]\nurl = {url}\nsecrets = {secrets_path}\n{psa}{fast}{extra}"
    path = tmp_path / "msp-intake.conf"
    path.write_text(text)
    return str(path)


def load(tmp_path, kind, url, extra="", **kwargs):
    return config.load_config(write_config(tmp_path, kind, url, extra, **kwargs))


def make_worker(conf):
    settings = load_settings(conf)
    outbox.install()
    return SyncWorker(settings, make_connector(settings))


def new_ticket(number, **fields):
    ticket, _ = store.open_ticket(
        f"chan-{number}",
        utcnow(),
        caller_number=f"+1555010{number:04d}",
        caller_e164=f"+1555010{number:04d}",
        **fields,
    )
    return ticket


def triage(ticket_id, priority="P2", **answers):
    fields = {"site_down": True, "critical": False, "users_affected": 3}
    fields.update(answers)
    return store.update_ticket(
        ticket_id,
        event="triage_done",
        status="open",
        priority=priority,
        priority_reason="rule 'site_down'",
        **fields,
    )


def pending():
    return OutboxItem.select().where(OutboxItem.state.in_(PENDING)).count()


FAR_FUTURE = datetime.datetime(9999, 1, 1)


def drain(worker, timeout=10.0):
    """Run the worker in this thread until nothing deliverable is left."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if worker.step():
            continue
        if not worker.paused and outbox.next_due(FAR_FUTURE) is None:
            return  # what is left is parked, or waits behind a parked row
        time.sleep(0.01)  # paused by backoff: wait it out
    raise AssertionError(f"outbox not drained in {timeout} s: {pending()} left")
