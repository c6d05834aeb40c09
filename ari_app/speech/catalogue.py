"""The prompt catalogue: what each IVR prompt says and where its sound file goes.

The call flow plays prompts by media URI (``sound:msp-intake/q-site-down``); this
module maps each prompt name to its text and file name. The MSP edits the texts in
``[prompt_texts]`` of the config file; ``{msp_name}`` is replaced by
``[speech] msp_name``. ``msp-intake prompts render`` turns the texts into sound files.
"""

import dataclasses
import string

from ..exceptions import ConfigError

FOLDER = "msp-intake"

DEFAULT_TEXTS = {
    "greeting": "Thank you for calling {msp_name}. We are opening a ticket for you.",
    "q_site_down": "Is your whole site down? Say yes or press 1. Say no or press 2.",
    "q_critical": (
        "Is a critical system involved, such as a server, email or the internet? "
        "Say yes or press 1. Say no or press 2."
    ),
    "q_users": (
        "How many people are affected? Say the number, or key it in and press hash."
    ),
    "describe": "In a few words, what is happening? Press hash when you are done.",
    "invalid": "Sorry, I did not get that.",
    "no_answer": "I did not hear an answer. Let's go on.",
    "ticket_number": "Your ticket number is",
    "goodbye": "Thank you. A technician from {msp_name} will be in touch. Goodbye.",
    # Played when the dynamic "I have you as ..." prompt cannot be rendered.
    "matched": "We have found your account.",
}

# Rendered during a call, when the company is known; {company} is its name.
DYNAMIC_TEXTS = {"company": "I have you as {company}."}

_PLACEHOLDERS = {"msp_name"}


@dataclasses.dataclass(frozen=True)
class Prompt:
    name: str
    text: str

    @property
    def file_stem(self):
        """The sound file's name: Asterisk's convention is dashes, not underscores."""
        return self.name.replace("_", "-")

    @property
    def media_uri(self):
        return f"sound:{FOLDER}/{self.file_stem}"


def build_catalogue(settings):
    """Every prompt with its final text, in a stable order."""
    prompts = []
    for name, default in DEFAULT_TEXTS.items():
        template = settings.texts.get(name, default)
        prompts.append(Prompt(name, _fill(name, template, settings.msp_name)))
    return prompts


def company_text(settings, company):
    template = settings.texts.get("company", DYNAMIC_TEXTS["company"])
    return _fill("company", template, settings.msp_name, company)


def _fill(name, template, msp_name, company=None):
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ConfigError(f"[prompt_texts] {name}", f"bad braces ({exc})") from None
    fields = {field for _, field, _, _ in parsed if field}
    allowed = _PLACEHOLDERS | ({"company"} if company is not None else set())
    unknown = fields - allowed
    if unknown:
        raise ConfigError(
            f"[prompt_texts] {name}",
            f"unknown placeholder {{{sorted(unknown)[0]}}}",
        )
    return template.format(msp_name=msp_name, company=company)
