"""The default priority matrix, as the MSP's contract describes it."""

import pytest

from ari_app.config import DEFAULT_PRIORITY, DEFAULT_PRIORITY_RULES
from ari_app.triage import Answers, decide


@pytest.mark.parametrize(
    ("answers", "expected"),
    [
        (Answers(site_down=True, critical=True, users=40), "P1"),
        (Answers(site_down=True, critical=False, users=40), "P2"),
        (Answers(site_down=False, critical=True, users=1), "P2"),
        (Answers(site_down=None, critical=True, users=None), "P2"),
        (Answers(site_down=False, critical=False, users=5), "P3"),
        (Answers(site_down=False, critical=False, users=4), "P4"),
        (Answers(site_down=False, critical=None, users=None), "P4"),
        (Answers(), "P3"),
    ],
)
def test_default_matrix(answers, expected):
    priority, reason = decide(answers, DEFAULT_PRIORITY_RULES, DEFAULT_PRIORITY)
    assert priority == expected
    assert reason


def test_reason_names_the_rule():
    _, reason = decide(Answers(True, True, 3), DEFAULT_PRIORITY_RULES, "P4")
    assert reason == "rule 'site_down and critical'"
    _, reason = decide(Answers(False, False, 1), DEFAULT_PRIORITY_RULES, "P4")
    assert reason == "no rule matched (default)"
