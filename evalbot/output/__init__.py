"""What evalbot writes: the comment, text, Markdown escaping, the JSON report and CSV."""
