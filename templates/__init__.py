"""evalbot's built-in Jinja templates, shipped as the package ``evalbot.templates``."""
