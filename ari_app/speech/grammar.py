"""What a spoken answer means for each triage question.

The three keypad questions (whole site down, critical system, how many people)
are recognised in Vosk's grammar mode: the recognizer only chooses among the
phrases listed here, which makes short answers on a phone line reliable. The same
module then reads the recognised text back into an answer: ``True``/``False`` for
the yes/no questions, a count for the last one ("about twelve" is 12).
"""

import re

SITE_DOWN = "site_down"
CRITICAL = "critical"
USERS = "users"

_YES = ("yes", "yeah", "yep", "yup", "correct", "right", "sure", "it is", "they are")
_NO = ("no", "nope", "nah", "not", "negative", "it isn't", "it's not")
_WHOLE_SITE = (
    "the whole office",
    "the whole site",
    "whole office",
    "everyone",
    "everybody",
    "all of us",
    "everything",
)
_JUST_ME = ("just me", "only me", "just my computer", "only my computer", "just one")

_UNITS = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_FILLERS = ("about", "around", "maybe", "roughly", "approximately", "like", "over")
_SMALL_AMOUNTS = {"a couple": 2, "a few": 3, "a dozen": 12, "a handful": 5}

_NUMBER_WORDS = {word: value for value, word in enumerate(_UNITS)}
_NUMBER_WORDS.update({word: 20 + 10 * index for index, word in enumerate(_TENS)})


def phrases(question):
    """The grammar (phrase list) Vosk gets for ``question``."""
    if question == SITE_DOWN:
        return list(_YES + _NO + _WHOLE_SITE + _JUST_ME)
    if question == CRITICAL:
        return list(_YES + _NO)
    if question == USERS:
        words = _UNITS + _TENS + ["hundred", "a", "and"]
        return words + list(_FILLERS + _JUST_ME) + list(_SMALL_AMOUNTS)
    raise ValueError(f"no grammar for question {question!r}")


def interpret(question, text):
    """The answer ``text`` gives to ``question``, or None when it gives none."""
    text = _normalise(text)
    if not text:
        return None
    if question == USERS:
        return spoken_number(text)
    if question == SITE_DOWN and _has_any(text, _JUST_ME):
        return False
    if question == SITE_DOWN and _has_any(text, _WHOLE_SITE):
        return True
    # "no" before "yes": "it is not" contains "it is".
    if _has_any(text, _NO):
        return False
    if _has_any(text, _YES):
        return True
    return None


def spoken_number(text):
    """A head count from words or digits: "about twelve" → 12, "just me" → 1."""
    text = _normalise(text)
    if _has_any(text, _JUST_ME):
        return 1
    for phrase, value in _SMALL_AMOUNTS.items():
        if _has_any(text, (phrase,)):
            return value
    digits = re.search(r"\d+", text)
    if digits:
        return int(digits.group())
    return _words_to_number(text.split())


def _words_to_number(words):
    total, current, seen = 0, 0, False
    for word in words:
        if word in _NUMBER_WORDS:
            current += _NUMBER_WORDS[word]
            seen = True
        elif word == "hundred":
            current = max(current, 1) * 100
            seen = True
        elif word == "thousand":
            total += max(current, 1) * 1000
            current, seen = 0, True
        elif word in ("a", "an", "and") or word in _FILLERS:
            continue
        elif seen:
            break  # the number ended: "twelve people here" is 12
    return total + current if seen else None


def _normalise(text):
    return " ".join(re.sub(r"[^\w' ]+", " ", (text or "").lower()).split())


def _has_any(text, phrases_):
    padded = f" {text} "
    return any(f" {phrase} " in padded for phrase in phrases_)
