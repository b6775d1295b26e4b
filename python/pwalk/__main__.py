"""python -m pwalk: the pwalk command line."""

import sys

from .cli import main

sys.exit(main())
