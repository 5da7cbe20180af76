"""``python -m evalbot``."""

from evalbot.cli import run

if __name__ == "__main__":
    run()
