"""`python -m clifer_jax.cli` is the `clifer` command."""

import sys

from clifer_jax.cli import main

sys.exit(main())
