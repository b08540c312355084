"""``python -m graphalign`` runs the command-line interface."""

import sys

from graphalign.cli import main

if __name__ == "__main__":
    sys.exit(main())
