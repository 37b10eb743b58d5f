"""``python -m facelog.pipeline.cli``: the ``facelog`` command."""

import sys

from facelog.pipeline.cli import main

sys.exit(main())
