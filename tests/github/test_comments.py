"""Finding evalbot's own comment: the marker on the first line, by the bot, page by page."""

from __future__ import annotations

import re

from evalbot.github.comments import find_comment

MARKER = "<!-- evalbot:default -->"


def test_find_comment_ignores_non_first_line_markers() -> None:
    class C:
        def __init__(self, body: str, login: str) -> None:
            self.body, self.user = body, type("U", (), {"login": login})()

    class Listing:  # PyGithub's PaginatedList, as find_comment reads it: by page number
        def get_page(self, page: int) -> list[C]:
            comments = [C("hi\n" + MARKER, "github-actions[bot]"), C(MARKER, "github-actions[bot]")]
            return comments if page == 0 else []

    class FakeIssue:
        def get_comments(self) -> Listing:
            return Listing()

    found = find_comment(FakeIssue(), MARKER, "github-actions[bot]")
    assert found is not None and found.body == MARKER
    assert re.match("<!--", MARKER)
