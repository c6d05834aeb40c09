"""A recognizer test double: it "hears" given text when the caller talks.

The call-flow tests use it instead of Vosk, so that they can choose what the
caller said and how sure the recognizer is. It still receives the real audio
from the test double's RTP: a stretch of sound followed by silence is one
utterance, as Vosk's endpointing would make it.
"""

import time

from ari_app.speech import audio, grammar
from ari_app.speech.recognizer import Hypothesis


class ModelDouble:
    """Stands in for SpeechModel; ``heard`` maps a question (or "describe") to
    ``(text, confidence)``."""

    def __init__(self, heard, fail=(), accept_seconds=0.0):
        self.heard = heard
        self.fail = set(fail)
        self.created = []
        self.accept_seconds = accept_seconds  # > 0: a machine that falls behind

    def recognizer(self, phrases=None):
        question = "describe"
        for name in (grammar.SITE_DOWN, grammar.CRITICAL, grammar.USERS):
            if phrases is not None and phrases == grammar.phrases(name):
                question = name
        self.created.append(question)
        heard = self.heard.get(question, ("", 0.0))
        if isinstance(heard, list):  # one (text, confidence) per recognizer made
            heard = heard.pop(0)
        text, confidence = heard
        return RecognizerDouble(
            text, confidence, question in self.fail, self.accept_seconds
        )


class RecognizerDouble:
    def __init__(self, text, confidence, fail, accept_seconds=0.0):
        self.text = text
        self.confidence = confidence
        self.fail = fail
        self.accept_seconds = accept_seconds
        self.talking = False
        self.quiet_frames = 0

    def accept(self, pcm):
        if self.fail:
            raise RuntimeError("recognizer double told to fail")
        time.sleep(self.accept_seconds)
        if audio.rms(pcm) > 300:
            self.talking, self.quiet_frames = True, 0
            return False
        if self.talking:
            self.quiet_frames += 1
            if self.quiet_frames >= 3:  # 300 ms of silence ends the utterance
                self.talking = False
                return True
        return False

    def partial(self):
        return self.text.split()[0] if self.talking and self.text else ""

    def result(self):
        return Hypothesis(self.text, self.confidence)

    def final(self):
        # Like Vosk's FinalResult: words still being spoken are not lost.
        if self.talking:
            self.talking = False
            return Hypothesis(self.text, self.confidence)
        return Hypothesis("", 0.0)
