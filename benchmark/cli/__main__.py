"""``python -m asabench.benchmark.cli``: the ``asabench`` command (what ``torchrun -m`` launches)."""

import sys

from asabench.benchmark.cli import main

sys.exit(main())
