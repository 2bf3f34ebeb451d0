"""``python -m trialkit`` is the same as the ``trialkit`` command."""

import sys

from trialkit.cli import main

sys.exit(main())
