"""``python -m app``: the same as the ``latent-explorer`` command."""
import sys

from .cli import main

sys.exit(main())
