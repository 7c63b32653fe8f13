"""Entry point: ``python -m relmark_core``."""

import sys

from relmark_core.cli import main

sys.exit(main())
