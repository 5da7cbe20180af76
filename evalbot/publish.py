"""The one publish flow: render -> comment -> status -> summary, outputs and report.

``evalbot action`` and ``evalbot publish`` both end here, so a result reaches GitHub
one way. Nothing is lost (docs/action.md, "Failure handling"): the report and the job summary
are written before GitHub is asked, the outputs after it (they carry the comment's
URL), and a file that cannot be written is a warning that loses none of the others.
GitHub's refusals (a fork PR's read-only token answers 403) are warnings too. A run
that cannot finish (an input error, a bug) still writes the summary and the outputs
and sets an ``error`` status: :func:`report_input_error`, :func:`report_internal_error`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from evalbot.config import CommentWhen, Settings
from evalbot.errors import EXIT_GATE_FAILED, EXIT_PASS, EXIT_USAGE, InputError
from evalbot.github import runtime
from evalbot.github.api import (
    CommentMode,
    GitHub,
    GitHubTarget,
    Published,
    StatusState,
    StatusUpdate,
)
from evalbot.output.markdown import code_span, escape_text
from evalbot.output.render import RunLinks, is_notable, render_comment
from evalbot.pipeline import Result
from evalbot.publish_view import (
    result_outputs,
    status_description,
    status_state,
    workflow_annotations,
)
from evalbot.text import comment_marker as marker

ERROR_OUTPUTS = {
    "outcome": "error",
    "gate": "fail",
    "hard_regressions": "",
    "soft_regressions": "",
    "improvements": "",
    "report_path": "",
    "comment_url": "",
}
"""The outputs when evalbot could not run: no outcome, no counts, no report."""


@dataclass(frozen=True, slots=True)
class Reporting:
    """Where a run reports, known as soon as the event is read: enough to report an
    error even when the rest of the settings are invalid."""

    github: GitHubTarget | None
    pr_number: int | None
    head_sha: str | None
    status_context: str
    run_url: str | None
    output_path: str | None
    summary_path: str | None
    secrets: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Delivery:
    """One run's rendered answer, as :func:`deliver` writes and posts it."""

    summary: str
    status: StatusUpdate
    outputs: Callable[[str, str], Mapping[str, str]]
    """The outputs, given the report path and the comment URL (each "" when there is none)."""
    comment: str | None = None
    marker: str = ""
    mode: CommentMode = CommentMode.OFF
    create: bool = True
    annotations: tuple[str, ...] = ()
    report: Callable[[], str] | None = None
    """The JSON report's text, written to the ``report_path`` given to :func:`deliver`."""


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every secret replaced by ``***``.

    Secrets shorter than 3 characters are left alone: no real key or token is
    that short, and replacing them would garble ordinary text and make it
    longer (past the comment or status limits); from 3 up it never grows.
    """
    for secret in secrets:
        if len(secret) >= 3:
            text = text.replace(secret, "***")
    return text


def write_safely(stdout: TextIO, what: str, write: Callable[[], None]) -> bool:
    """Run ``write``; a file that cannot be written is a warning, not the end of the run."""
    try:
        write()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        runtime.emit(
            stdout,
            [
                runtime.command(
                    "warning", f"evalbot could not write the {what}: {reason}", title="evalbot"
                )
            ],
        )
        return False
    return True


def deliver(
    delivery: Delivery,
    reporting: Reporting,
    *,
    stdout: TextIO,
    github: GitHub | None = None,
    report_path: Path | None = None,
) -> Published:
    """Report, job summary, annotations, comment and status, then outputs; never loses one.

    ``github``: the client to publish with (one retry budget per run), by default one
    for ``reporting.github``; no target means nothing is posted.
    """
    wrote_report = False
    if report_path is not None and delivery.report is not None:
        report, path = delivery.report, report_path

        def write_report() -> None:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(redact(report(), reporting.secrets), encoding="utf-8")

        wrote_report = write_safely(stdout, f"report to {path} (report_path)", write_report)
    write_safely(
        stdout,
        "job summary (GITHUB_STEP_SUMMARY)",
        lambda: runtime.write_summary(reporting.summary_path, delivery.summary),
    )
    runtime.emit(stdout, [redact(line, reporting.secrets) for line in delivery.annotations])
    if github is None and reporting.github is not None:
        github = GitHub(reporting.github)
    published = Published()
    if github is not None:
        published = github.publish(
            pr_number=reporting.pr_number,
            head_sha=reporting.head_sha,
            comment_body=delivery.comment,
            marker=delivery.marker,
            mode=delivery.mode,
            create=delivery.create,
            status=delivery.status,
        )
    for problem in published.problems:
        runtime.emit(stdout, [runtime.command("warning", problem.message, title="evalbot")])
    outputs = delivery.outputs(
        str(report_path) if wrote_report else "", published.comment_url or ""
    )
    write_safely(
        stdout,
        "outputs (GITHUB_OUTPUT)",
        lambda: runtime.write_outputs(reporting.output_path, outputs),
    )
    return published


def publish_result(
    result: Result,
    reporting: Reporting,
    *,
    settings: Settings,
    comment: CommentMode,
    reproduce: str,
    links: RunLinks,
    stdout: TextIO,
    github: GitHub | None = None,
    report_path: Path | None = None,
    where: str | None = None,
) -> int:
    """Render ``result``, then :func:`deliver` it; returns the gate's exit code.

    Everything published is redacted once more, whatever it came from: the
    LangSmith module scrubs its own key from its messages, but not the GitHub
    token (say, an experiment input set to it by mistake, quoted in a fetch error).
    ``where`` ("PR #12") names the target in the last line of the log.
    """
    secrets = reporting.secrets
    key = settings.comment_key
    common: dict[str, Any] = {
        "comment_key": key,
        "reproduce": reproduce,
        "template": settings.template,
        "selection": result.selection,
        "links": links,
    }
    body = redact(render_comment(result.outcome, result.gate, **common), secrets)
    # The summary holds the full report: every row, every section unfolded.
    summary = redact(render_comment(
        result.outcome, result.gate, **common, summary=True,
        max_chars=runtime.SUMMARY_LIMIT_BYTES,
        size=lambda text: len(text.encode("utf-8")),
    ), secrets)  # fmt: skip
    delivery = Delivery(
        summary=summary,
        comment=body,
        marker=marker(key),
        mode=comment,
        # comment_when: notable: a clean pass creates no comment, but an existing
        # one is still updated so it never shows a stale failure (issue 13 §12).
        create=settings.comment_when is CommentWhen.ALWAYS
        or is_notable(result.outcome, result.gate),
        status=StatusUpdate(
            status_state(result),
            redact(status_description(result.outcome, result.gate.failed), secrets),
            reporting.status_context,
            reporting.run_url,
        ),
        annotations=tuple(workflow_annotations(result)),
        report=result.report.text,
        outputs=lambda path, url: result_outputs(result, report_path=path, comment_url=url),
    )
    deliver(delivery, reporting, stdout=stdout, github=github, report_path=report_path)
    done = "failed" if result.gate.failed else "passed"
    kind = result.outcome.kind.value
    subject = f"published {kind} for {where}" if where else kind
    runtime.say(stdout, redact(f"evalbot: {subject}; gate {done}: {result.gate.reason}", secrets))
    return EXIT_GATE_FAILED if result.gate.failed else EXIT_PASS


def _report_failure(
    reporting: Reporting, *, stdout: TextIO, headline: str, detail: str, description: str
) -> None:
    """Job summary, outputs and an ``error`` status for a run that could not finish.

    Best effort by design: each part that fails is a warning, never an exception.
    """
    summary = (
        f"## evalbot could not run\n\n**{headline}:** {code_span(detail, 2000)}\n\n"
        f"The `{escape_text(reporting.status_context, 100)}` status is set to `error`; "
        "no comparison was made, so there is no report.\n"
    )
    write_safely(
        stdout,
        "job summary (GITHUB_STEP_SUMMARY)",
        lambda: runtime.write_summary(reporting.summary_path, summary),
    )
    write_safely(
        stdout,
        "outputs (GITHUB_OUTPUT)",
        lambda: runtime.write_outputs(reporting.output_path, ERROR_OUTPUTS),
    )
    if reporting.github is None or reporting.head_sha is None:
        return
    try:
        published = GitHub(reporting.github).publish(
            pr_number=reporting.pr_number,
            head_sha=reporting.head_sha,
            comment_body=None,
            marker="",
            mode=CommentMode.OFF,
            status=StatusUpdate(
                StatusState.ERROR, description, reporting.status_context, reporting.run_url
            ),
        )
    except Exception as exc:
        message = f"evalbot could not set the status: {type(exc).__name__}"
        runtime.emit(stdout, [runtime.command("warning", message, title="evalbot")])
        return
    for problem in published.problems:
        runtime.emit(stdout, [runtime.command("warning", problem.message, title="evalbot")])


def report_input_error(reporting: Reporting, exc: InputError, *, stdout: TextIO) -> int:
    """``::error`` naming the input, then summary, outputs and an ``error`` status; 2."""
    detail = redact(str(exc), reporting.secrets)
    runtime.emit(stdout, [runtime.command("error", f"Invalid input: {detail}", title="evalbot")])
    _report_failure(
        reporting,
        stdout=stdout,
        headline="Invalid input",
        detail=detail,
        description=f"Invalid input: {detail}",
    )
    return EXIT_USAGE


def report_internal_error(reporting: Reporting, *, stdout: TextIO) -> None:
    """Summary, outputs and an ``error`` status before a bug's traceback (exit 3)."""
    _report_failure(
        reporting,
        stdout=stdout,
        headline="Internal error",
        detail="evalbot hit a bug; the traceback is in the job log.",
        description="evalbot internal error: see the job log",
    )
