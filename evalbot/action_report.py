"""Where the Action reports before its settings are valid: masks first, a lenient target.

:func:`endpoint_masks` runs before anything is printed; :func:`reporting_from_env`
finds where to report when the settings are invalid (so the check still reports).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from evalbot.config import parse_secret
from evalbot.errors import InputError
from evalbot.github import runtime
from evalbot.github.api import DEFAULT_API_URL, GitHubTarget
from evalbot.publish import Reporting


def endpoint_masks(env: Mapping[str, str]) -> list[str]:
    """``::add-mask::`` lines for the password in ``langsmith_endpoint``, if it has one.

    First thing the action prints, before the input is even validated: the
    runner then hides the password in every later log line, whatever prints it.
    (Messages, links and reports also redact the userinfo themselves.)
    """
    from urllib.parse import unquote

    endpoint = runtime.read_input(env, "langsmith_endpoint")
    if not endpoint or "@" not in endpoint:
        return []
    # Userinfo is what comes before the last "@" of the authority, "user:password".
    authority = endpoint.split("://", 1)[-1].split("/", 1)[0]
    userinfo = authority.rsplit("@", 1)[0] if "@" in authority else ""
    password = userinfo.split(":", 1)[1] if ":" in userinfo else ""
    secrets = {password, unquote(password)} - {""}
    return [runtime.command("add-mask", secret) for secret in sorted(secrets)]


def reporting_from_env(env: Mapping[str, str]) -> Reporting:
    """Where to report when ``parse_settings`` failed: read leniently, never raises.

    An unreadable event or an invalid head SHA leaves no commit for the status
    (the summary and outputs are still written); an invalid ``status_context``
    falls back to ``evalbot``.
    """
    try:
        event: runtime.Event | None = runtime.read_event(env)
    except InputError:
        event = None
    head = event.head_sha if event is not None else None
    if head is not None and not runtime.LOWER_SHA.fullmatch(head):
        head = None
    repository = env.get("GITHUB_REPOSITORY") or ""
    token = runtime.read_input(env, "github_token")
    try:
        usable = token is not None and parse_secret(token, name="github_token") == token
    except InputError:
        usable = False  # it cannot go into a header; its error would quote it
    github = None
    if usable and token and re.fullmatch(r"[\w.-]+/[\w.-]+", repository):
        github = GitHubTarget(
            token=token,
            repository=repository,
            api_url=env.get("GITHUB_API_URL") or DEFAULT_API_URL,
        )
    context = runtime.read_input(env, "status_context") or "evalbot"
    server, run_id = env.get("GITHUB_SERVER_URL"), env.get("GITHUB_RUN_ID")
    secrets = tuple(
        value
        for value in (token, runtime.read_input(env, "langsmith_api_key"))
        if value is not None
    )
    return Reporting(
        github=github,
        pr_number=event.pr_number if event is not None else None,
        head_sha=head,
        status_context=context if len(context) <= 100 else "evalbot",
        run_url=f"{server}/{repository}/actions/runs/{run_id}" if server and run_id else None,
        output_path=env.get("GITHUB_OUTPUT"),
        summary_path=env.get("GITHUB_STEP_SUMMARY"),
        secrets=secrets,
    )
