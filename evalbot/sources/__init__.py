"""Where buckets come from: experiment files and LangSmith."""
