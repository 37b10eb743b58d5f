"""``python -m facelog.cli``: the ``facelog`` command."""

import sys

from facelog.cli import main

sys.exit(main())
