"""The ``[speech]`` settings, read once at start-up and checked.

Everything speech needs from the config file lives in ``[speech]`` (voice, model,
directories, limits) and ``[prompt_texts]`` (what the prompts say). A bad value
raises ``ConfigError`` naming the setting, like the rest of the configuration.
"""

import dataclasses

from ..config import expand_path, get, get_bool, get_float, get_int
from ..exceptions import ConfigError

SECTION = "speech"

# Transcript words that raise a ticket's priority, by the priority they raise to.
DEFAULT_RAISE_WORDS = {
    "P1": ("ransomware", "nobody can work", "no one can work", "encrypted files"),
    "P2": ("server is down", "server down", "email is down", "internet is down"),
}


@dataclasses.dataclass(frozen=True)
class SpeechSettings:
    enabled: bool = True
    sounds_dir: str = "/var/lib/asterisk/sounds/en"
    voice: str = ""
    language: str = "en-us"
    rate: int = 160
    msp_name: str = "your IT support team"
    model_path: str = "/var/lib/msp-intake/vosk-model"
    min_confidence: float = 0.6
    record_max_seconds: float = 30.0
    record_silence_seconds: float = 2.5
    # A caller who says nothing at the description is moved on after this long.
    describe_wait_seconds: float = 5.0
    recordings_dir: str = "/var/lib/msp-intake/recordings"
    rtp_host: str = "127.0.0.1"
    recognizer_threads: int = 2
    raise_words: dict = dataclasses.field(
        default_factory=lambda: dict(DEFAULT_RAISE_WORDS)
    )
    texts: dict = dataclasses.field(default_factory=dict)

    @property
    def espeak_voice(self):
        """The espeak-ng voice name: ``voice`` when set, else the language."""
        return self.voice or self.language


def load_settings(parser):
    """Read ``[speech]``, ``[speech_raise]`` and ``[prompt_texts]`` from the config."""
    return SpeechSettings(
        enabled=get_bool(parser, SECTION, "enabled", True),
        sounds_dir=expand_path(
            get(parser, SECTION, "sounds_dir", "/var/lib/asterisk/sounds/en")
        ),
        voice=get(parser, SECTION, "voice", ""),
        language=get(parser, SECTION, "language", "en-us"),
        rate=get_int(parser, SECTION, "rate", 160, low=60, high=450),
        msp_name=get(parser, SECTION, "msp_name", "your IT support team"),
        model_path=expand_path(
            get(parser, SECTION, "model_path", "/var/lib/msp-intake/vosk-model")
        ),
        min_confidence=get_float(parser, SECTION, "min_confidence", 0.6, low=0, high=1),
        record_max_seconds=get_float(
            parser, SECTION, "record_max_seconds", 30.0, low=1, high=300
        ),
        record_silence_seconds=get_float(
            parser, SECTION, "record_silence_seconds", 2.5, low=0.5, high=30
        ),
        describe_wait_seconds=get_float(
            parser, SECTION, "describe_wait_seconds", 5.0, low=0.5, high=60
        ),
        recordings_dir=expand_path(
            get(parser, SECTION, "recordings_dir", "/var/lib/msp-intake/recordings")
        ),
        rtp_host=get(parser, SECTION, "rtp_host", "127.0.0.1"),
        recognizer_threads=get_int(
            parser, SECTION, "recognizer_threads", 2, low=1, high=64
        ),
        raise_words=_raise_words(parser),
        texts=_texts(parser),
    )


def _raise_words(parser):
    """``[speech_raise]`` maps P1..P3 to comma-separated words or phrases."""
    if not parser.has_section("speech_raise"):
        return dict(DEFAULT_RAISE_WORDS)
    words = {}
    for key, value in parser.items("speech_raise"):
        priority = key.upper()
        if priority not in ("P1", "P2", "P3"):
            raise ConfigError(f"[speech_raise] {key}", "must be P1, P2 or P3")
        phrases = tuple(p.strip().lower() for p in value.split(",") if p.strip())
        words[priority] = phrases
    return words


def _texts(parser):
    from .catalogue import DEFAULT_TEXTS, DYNAMIC_TEXTS

    known_names = {**DEFAULT_TEXTS, **DYNAMIC_TEXTS}
    texts = {}
    if parser.has_section("prompt_texts"):
        for key, value in parser.items("prompt_texts"):
            if key not in known_names:
                known = ", ".join(sorted(known_names))
                raise ConfigError(
                    f"[prompt_texts] {key}", f"unknown prompt (known: {known})"
                )
            texts[key] = " ".join(value.split())
    return texts
