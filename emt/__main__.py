"""``python -m emt``: the same as the ``emt`` command."""

import sys

from emt.cli import main

sys.exit(main())
