"""The sticky PR comment: find evalbot's own, and create one without ever posting it twice.

Works on PyGithub's issue objects; only :mod:`evalbot.github.api` calls it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from evalbot.github.client import PER_PAGE
from evalbot.github.problems import (
    CommentListingTooLong,
    ambiguous,
    github_errors,
    rate_limit_of,
)
from evalbot.github.values import CommentMode
from evalbot.text import starts_with_marker

COMMENT_PAGE_LIMIT = 50
"""Pages of PR comments read when looking for evalbot's (5,000 comments). Pages are
asked for by number, not by following ``Link: rel="next"``: a server (or proxy)
whose next link points back at the same page would otherwise be paged forever."""


def find_comment(issue: Any, marker: str, bot_login: str) -> Any | None:
    """The newest comment by ``bot_login`` whose first line is ``marker``.

    Walks every page (100 per page): a busy PR can have hundreds of comments.
    Someone else's comment quoting the marker is never edited.
    """
    found = None
    for comment in _comments(issue):
        user = getattr(comment, "user", None)
        if user is None or user.login != bot_login:
            continue
        if starts_with_marker(comment.body or "", marker):
            found = comment
    return found


def create_comment(
    issue: Any, body: str, *, marker: str, bot_login: str, mode: CommentMode, attempts: int = 2
) -> tuple[Any, str]:
    """Create the comment without ever posting it twice.

    After a failed or ambiguous create (5xx, timeout, dropped connection),
    GitHub may have created it anyway (a proxy's 502 after the write): list
    the comments again and adopt ours before creating another. ``new`` mode
    adopts only a comment with exactly this body.
    """
    last: Exception | None = None
    for _ in range(attempts):
        try:
            return issue.create_comment(body), "created"
        except github_errors() as exc:
            if not ambiguous(exc) or rate_limit_of(exc) is not None:
                raise
            last = exc
        adopted = _adopt(issue, body, marker=marker, bot_login=bot_login, mode=mode)
        if adopted is not None:
            return adopted
    assert last is not None
    raise last


def _adopt(
    issue: Any, body: str, *, marker: str, bot_login: str, mode: CommentMode
) -> tuple[Any, str] | None:
    if mode is CommentMode.NEW:
        for comment in _bot_comments(issue, bot_login):
            if (comment.body or "") == body:
                return comment, "created"
        return None
    found = find_comment(issue, marker, bot_login)
    if found is None:
        return None
    if (found.body or "") != body:  # a concurrent run's comment: ours is newer
        found.edit(body)
        return found, "updated"
    return found, "created"


def _comments(issue: Any) -> Iterator[Any]:
    """Every comment on the PR, page by page; CommentListingTooLong past the limit.

    A page shorter than :data:`PER_PAGE` is the last (GitHub's pages are full
    until the end), so a listing costs at most :data:`COMMENT_PAGE_LIMIT` requests.
    """
    listing = issue.get_comments()
    for page in range(COMMENT_PAGE_LIMIT):
        items = listing.get_page(page)
        yield from items
        if len(items) < PER_PAGE:
            return
    raise CommentListingTooLong(
        f"the PR's comments did not end within {COMMENT_PAGE_LIMIT} pages of {PER_PAGE}; "
        "evalbot did not look further for its comment, and posted none rather than a duplicate"
    )


def _bot_comments(issue: Any, bot_login: str) -> Iterator[Any]:
    for comment in _comments(issue):
        user = getattr(comment, "user", None)
        if user is not None and user.login == bot_login:
            yield comment
