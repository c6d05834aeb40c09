"""Reading spoken answers: yes/no with the triage's own phrases, and head counts."""

import pytest

from ari_app.speech import grammar, keywords


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("yes", True),
        ("yeah it is", True),
        ("no", False),
        ("it is not", False),
        ("the whole office", True),
        ("everyone", True),
        ("just me", False),
        ("only my computer", False),
        ("[unk]", None),
        ("", None),
        ("banana", None),
    ],
)
def test_site_down(text, value):
    assert grammar.interpret(grammar.SITE_DOWN, text) is value


def test_critical_has_no_office_phrases():
    assert grammar.interpret(grammar.CRITICAL, "yes") is True
    assert grammar.interpret(grammar.CRITICAL, "nope") is False
    assert grammar.interpret(grammar.CRITICAL, "the whole office") is None


@pytest.mark.parametrize(
    ("text", "count"),
    [
        ("about twelve", 12),
        ("twelve", 12),
        ("twenty five", 25),
        ("around a hundred", 100),
        ("one hundred and twenty", 120),
        ("two hundred", 200),
        ("just me", 1),
        ("a few", 3),
        ("maybe 40", 40),
        ("zero", 0),
        ("twelve people here and three upstairs", 12),
        ("nobody knows", None),
    ],
)
def test_head_counts(text, count):
    assert grammar.interpret(grammar.USERS, text) == count


def test_every_question_has_a_grammar():
    for question in (grammar.SITE_DOWN, grammar.CRITICAL, grammar.USERS):
        phrases = grammar.phrases(question)
        assert "yes" in phrases or "twelve" in phrases
        assert all(p == p.lower() for p in phrases)
    with pytest.raises(ValueError):
        grammar.phrases("describe")


WORDS = {"P1": ("ransomware", "nobody can work"), "P2": ("server is down",)}


def test_transcript_words_raise_priority_and_say_why():
    priority, reason = keywords.raise_priority(
        "P3", "I think it is ransomware, files are locked", WORDS
    )
    assert priority == "P1"
    assert "ransomware" in reason and "P3" in reason


def test_transcript_words_never_lower_priority():
    assert keywords.raise_priority("P1", "the server is down", WORDS) == ("P1", None)
    assert keywords.raise_priority("P2", "the server is down", WORDS) == ("P2", None)


def test_words_match_whole_words_only():
    assert keywords.raise_priority("P4", "the servers downstairs", WORDS)[1] is None
    assert keywords.raise_priority("P4", "Nobody can work!", WORDS)[0] == "P1"
