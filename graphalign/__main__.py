"""``python -m graphalign`` runs the command-line interface."""

import sys

from graphalign.cli import main

sys.exit(main())
