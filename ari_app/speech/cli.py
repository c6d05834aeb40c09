"""``msp-intake prompts render``: speak the prompt catalogue into sound files.

The sysadmin runs it after installing and after editing ``[prompt_texts]``; the
service itself only checks that the files exist. Unchanged prompts are skipped.
"""

import sys

from ..exceptions import MspIntakeError
from . import render, tts
from .catalogue import build_catalogue
from .settings import load_settings


def register(subparsers):
    prompts = subparsers.add_parser("prompts", help="the IVR's spoken prompts")
    actions = prompts.add_subparsers(dest="prompts_action", required=True)
    render_parser = actions.add_parser(
        "render", help="speak every prompt into the Asterisk sounds directory"
    )
    render_parser.add_argument(
        "--force", action="store_true", help="render even prompts that did not change"
    )
    render_parser.set_defaults(func=render_prompts)
    list_parser = actions.add_parser("list", help="show each prompt's text and URI")
    list_parser.set_defaults(func=list_prompts)


def render_prompts(args, config):
    settings = load_settings(config.parser)
    prompts = build_catalogue(settings)
    try:
        tts.check_available()
        report = render.render_catalogue(prompts, settings, force=args.force)
    except tts.EspeakUnavailable as exc:
        print(f"msp-intake: {exc}", file=sys.stderr)
        return 2
    except (MspIntakeError, OSError) as exc:
        print(f"msp-intake: cannot render prompts: {exc}", file=sys.stderr)
        return 1
    for name in report.rendered:
        print(f"rendered  {name:<14} {report.seconds[name]:.2f} s")
    for name in report.cached:
        print(f"unchanged {name}")
    print(
        f"{len(report.rendered)} rendered, {len(report.cached)} unchanged, in "
        f"{render.prompt_dir(settings)}"
    )
    return 0


def list_prompts(args, config):
    settings = load_settings(config.parser)
    for prompt in build_catalogue(settings):
        print(f"{prompt.name:<14} {prompt.media_uri:<32} {prompt.text}")
    return 0
