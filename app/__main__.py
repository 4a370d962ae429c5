"""``python -m latent_explorer.app`` (or ``python -m app`` from the source tree): the ``latent-explorer`` command."""
import sys

from latent_explorer.app.cli import main

sys.exit(main())
