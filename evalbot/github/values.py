"""The values GitHub publishing takes and gives back: target, modes, status update, outcome.

Frozen values with GitHub's limits enforced on construction; no PyGithub type appears
here or anywhere outside :mod:`evalbot.github`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

# GitHub's limits, enforced here and tested.
STATUS_DESCRIPTION_LIMIT = 140  # REST "Create a commit status": description is truncated past 140
COMMENT_LIMIT = 65_536  # issue comment bodies over this are rejected with 422
DEFAULT_API_URL = "https://api.github.com"
PERMISSIONS_HELP = "https://github.com/evalbot/evalbot#permissions"
BOT_LOGIN = "github-actions[bot]"


class CommentMode(enum.StrEnum):
    UPDATE = "update"
    NEW = "new"
    OFF = "off"


class StatusState(enum.StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    ERROR = "error"
    PENDING = "pending"


@dataclass(frozen=True, slots=True)
class GitHubTarget:
    """Where to publish: repository, PR, commit, and how to authenticate."""

    token: str = field(repr=False)
    repository: str
    api_url: str = DEFAULT_API_URL
    bot_login: str = BOT_LOGIN


def trim_description(text: str) -> str:
    """A status description of at most 140 characters (GitHub's limit)."""
    text = " ".join(text.split())
    if len(text) <= STATUS_DESCRIPTION_LIMIT:
        return text
    return text[: STATUS_DESCRIPTION_LIMIT - 1].rstrip() + "…"


@dataclass(frozen=True, slots=True)
class StatusUpdate:
    """One commit status to set: state, description, context and the link it opens.

    The description is made one line of at most :data:`STATUS_DESCRIPTION_LIMIT`
    characters on construction (:func:`trim_description`), so a value that exists
    always fits GitHub's limit.
    """

    state: StatusState
    description: str
    context: str
    target_url: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "description", trim_description(self.description))


@dataclass(frozen=True, slots=True)
class PublishProblem:
    """GitHub refused something; the run goes on and reports it as a warning."""

    what: str
    message: str


@dataclass(frozen=True, slots=True)
class Published:
    """What happened on GitHub."""

    comment_url: str | None = None
    comment_action: str | None = None  # "created", "updated", "skipped" or None
    status_set: bool = False
    problems: tuple[PublishProblem, ...] = ()
