"""``python -m fastprom``: the ``fastprom`` command (see ``fastprom.cli``)."""

import sys

from .cli import main

sys.exit(main())
