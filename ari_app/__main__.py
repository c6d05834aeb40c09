"""``python -m ari_app`` is the same as the ``msp-intake`` command."""

import sys

from .cli import main

sys.exit(main())
