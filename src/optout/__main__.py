"""``python -m optout``: the command line."""

import sys

from optout._cli import main

sys.exit(main())
