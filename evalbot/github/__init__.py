"""GitHub: the Actions runtime and the GitHub API (the only PyGithub user)."""
