"""``python -m scripts.bench``: run the benchmark (from the repository's root)."""

import sys

from .cli import main

sys.exit(main())
