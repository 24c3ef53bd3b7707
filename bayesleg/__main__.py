"""Run the bayesleg command: ``python -m bayesleg``."""

import sys

from bayesleg.cli import main

sys.exit(main())
