"""Raising a ticket's priority from what the caller said.

After the caller describes the problem, the transcript is checked against the
configured word lists (``[speech_raise]``). A match can raise the priority the
keypad or spoken answers set, never lower it, and the reason names the words.
"""

import re

from ..config import PRIORITIES


def raise_priority(priority, transcript, raise_words):
    """Return ``(priority, reason)``; reason is None when nothing was raised."""
    text = " " + " ".join(re.sub(r"[^\w' ]+", " ", transcript.lower()).split()) + " "
    best = priority
    heard = None
    for target in sorted(raise_words):
        if _rank(target) >= _rank(best):
            continue
        for phrase in raise_words[target]:
            if f" {phrase} " in text:
                best, heard = target, phrase
                break
    if heard is None:
        return priority, None
    return best, f"raised from {priority} to {best}: caller said {heard!r}"


def _rank(priority):
    # An unknown priority ranks below P4, so any match raises it.
    return PRIORITIES.index(priority) if priority in PRIORITIES else len(PRIORITIES)
