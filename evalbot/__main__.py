"""``python -m evalbot``."""

import sys

from evalbot.cli import main

if __name__ == "__main__":
    sys.exit(main())
