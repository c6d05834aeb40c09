"""The speech part of the running service: started and stopped with it.

``make_component`` is called by the service at start-up. ``start`` checks for
espeak-ng and the rendered prompts, and starts loading the Vosk model in a
thread without waiting for it: the service registers with Asterisk at once, and
calls that arrive before the model is ready run keypad-only. A missing model is
one warning, after which every call runs keypad-only. Calls get
their ``CallSpeech`` from ``open_call`` and their dynamic prompts ("I have you as
Acme Dental") from ``company_prompt``.
"""

import asyncio
import concurrent.futures
import logging
import os

from ..exceptions import AriError
from . import render, tts
from .catalogue import build_catalogue, company_text
from .recognizer import ModelUnavailable, SpeechModel
from .session import CallSpeech
from .settings import load_settings
from .voice import Voice

logger = logging.getLogger(__name__)


def make_component(config, store_worker):
    settings = load_settings(config.parser)  # ConfigError names a bad setting
    if not settings.enabled:
        logger.info("speech is off ([speech] enabled = no): keypad-only IVR")
        return None
    return SpeechComponent(config, settings)


class SpeechComponent:
    name = "speech"

    def __init__(self, config, settings):
        self.config = config
        self.settings = settings
        self.model = None
        self.voice_ready = False
        self.prompts_installed = False
        self.pool = None
        self.loading = None  # the task loading the model, while it runs
        self.jobs = set()  # work that outlives its call (transcripts after it)
        self.dynamic = render.DynamicPrompts(settings)
        self.raise_words = settings.raise_words

    @property
    def available(self):
        """True when calls can be answered by voice."""
        return self.model is not None

    @property
    def unavailable_reason(self):
        """Why a call cannot be answered by voice, in words for its ticket."""
        if self.model is not None:
            return None
        if self.loading is not None and not self.loading.done():
            return "speech model still loading"
        return "no speech model"

    async def model_loaded(self):
        """Wait until the model has loaded or failed to (tests, benchmarks)."""
        if self.loading is not None:
            await asyncio.gather(self.loading, return_exceptions=True)

    async def start(self):
        loop = asyncio.get_running_loop()
        self.pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=self.settings.recognizer_threads,
            thread_name_prefix="speech",
        )
        await self._check_voice(loop)
        await loop.run_in_executor(None, self._check_prompts)
        # A full model takes tens of seconds to load: never hold up registering
        # with Asterisk for it, or every call in that time gets no ticket.
        self.loading = asyncio.create_task(self._load_model(loop), name="vosk model")

    async def _check_voice(self, loop):
        try:
            await loop.run_in_executor(tts.SYNTH_EXECUTOR, tts.check_available)
        except tts.EspeakUnavailable as exc:
            # The static prompts are sound files already: only the dynamic
            # one is lost, and the keypad IVR goes on.
            logger.error("%s; dynamic prompts are off until then", exc)
            return
        self.voice_ready = True

    def _check_prompts(self):
        directory = render.prompt_dir(self.settings)
        if not os.path.isdir(directory):
            # Never create folders under Asterisk's sounds for a service that
            # was not set up for it: dynamic prompts stay off.
            logger.warning(
                "no prompts in %s: run 'msp-intake prompts render'", directory
            )
            return
        self.prompts_installed = True
        missing = [
            prompt.file_stem
            for prompt in build_catalogue(self.settings)
            if not os.path.exists(os.path.join(directory, prompt.file_stem + ".wav"))
        ]
        if missing:
            logger.warning(
                "prompts %s are not in %s: run 'msp-intake prompts render'",
                ", ".join(missing),
                directory,
            )

    async def _load_model(self, loop):
        path = self.settings.model_path
        started = loop.time()
        try:
            model = await loop.run_in_executor(None, SpeechModel, path)
        except ModelUnavailable as exc:
            logger.warning("speech recognition unavailable, keypad only: %s", exc)
            return
        self.model = model
        logger.info(
            "speech model loaded from %s in %.1f s", path, loop.time() - started
        )

    async def open_voice(self, call):
        """The ``Voice`` a call answers through, or None: keypad only."""
        session = await self.open_call(
            call.ari,
            call.channel_id,
            call.services.claim_channel,
            call.services.release_channel,
        )
        return None if session is None else Voice(self, session)

    async def open_call(self, ari, channel_id, claim, release):
        """Start hearing a caller; None (keypad only) when that is not possible."""
        if not self.available or claim is None:
            return None
        session = CallSpeech(self, ari, channel_id, claim, release)
        try:
            await session.open(self.config.ari.app)
        except (AriError, OSError, TimeoutError) as exc:
            logger.warning(
                "channel %s: no external media (%s); keypad only", channel_id, exc
            )
            return None
        return session

    async def company_prompt(self, company_name, fallback, channel_id=""):
        """The media URI for "I have you as <company>", or ``fallback``."""
        if not (self.voice_ready and self.prompts_installed):
            return fallback
        text = company_text(self.settings, company_name)
        return await self.dynamic.media_for(text, fallback, channel_id)

    def after_call(self, job, label):
        """Run a coroutine after its call; ``stop`` waits for it."""
        task = asyncio.create_task(self._guarded(job, label), name=label)
        self.jobs.add(task)
        task.add_done_callback(self.jobs.discard)

    async def _guarded(self, job, label):
        try:
            await job
        except Exception:
            logger.exception("%s failed", label)

    async def stop(self):
        # The load runs in a thread that cannot be interrupted: let it end.
        await self.model_loaded()
        if self.jobs:
            await asyncio.gather(*self.jobs, return_exceptions=True)
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None
