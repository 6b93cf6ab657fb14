"""`python -m lulc_helpers.cli ARGS`: the `lulc` command."""

import sys

from .app import main

sys.exit(main())
