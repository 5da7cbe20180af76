"""LangSmith: the only package that imports the langsmith SDK."""
