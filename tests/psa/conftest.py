import pytest

from ari_app import store
from ari_app.doubles.psa_autotask import AutotaskDouble
from ari_app.doubles.psa_connectwise import ConnectWiseDouble
from ari_app.doubles.psa_halo import HaloDouble
from ari_app.doubles.psa_webhook import WebhookDouble
from ari_app.psa import outbox

DOUBLES = {
    "connectwise": ConnectWiseDouble,
    "autotask": AutotaskDouble,
    "halo": HaloDouble,
    "webhook": WebhookDouble,
}


@pytest.fixture
def cw():
    with ConnectWiseDouble() as double:
        yield double


@pytest.fixture
def psa_store(tmp_path):
    store.open_store(str(tmp_path / "intake.sqlite3"))
    yield str(tmp_path / "intake.sqlite3")
    outbox.uninstall()
    store.close_store()


@pytest.fixture(params=sorted(DOUBLES))
def any_psa(request):
    with DOUBLES[request.param]() as double:
        yield request.param, double
