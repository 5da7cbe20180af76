"""Benchmark: how tall the PR comment renders, and how long it is (issue 13 §11).

Not a test: it needs ``cmark-gfm`` (GitHub's Markdown renderer) and a headless
Chromium, which CI does not install. Run it by hand::

    python bench/bench_comment.py            # the bundled example's comment
    python bench/bench_comment.py FILE.md    # any Markdown file (e.g. an old comment)

Each comment is rendered to HTML with ``cmark-gfm -e table -e strikethrough
-e autolink --unsafe`` (the extensions GitHub enables; ``--unsafe`` keeps the
``<details>`` blocks GitHub's sanitiser allows), styled with a small copy of
GitHub's comment CSS (14 px system font, 1.5 line height, 16 px block margins,
6×13 px table cells), laid out by Chromium at a 920 px wide window — about a
PR comment's width on a laptop — with every ``<details>`` folded, and the
document height is read back from the DOM. Mermaid blocks stay folded, so they
add only their summary line. GitHub draws an alert's title ("Caution") where
cmark-gfm prints ``[!CAUTION]``; both take one line.

It prints a Markdown table (outcome, characters, tables, folded sections,
height in px) and a PASS/FAIL line for the target: the bundled example's
comment at most about 700 px (it was about 1,660 px before issue 13) and
every comment at most 65,536 characters. Exit status 1 when a target fails.
"""

from __future__ import annotations

import argparse
import html
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from evalbot.core.compare import compare_buckets, decide_gate, settle  # noqa: E402
from evalbot.core.models import (  # noqa: E402
    FailOn,
    FetchFailed,
    NoBaseline,
    Ok,
    OnFetchFailure,
    Outcome,
    Thresholds,
)
from evalbot.output.render import GITHUB_COMMENT_LIMIT, RunLinks, render_comment  # noqa: E402
from evalbot.sources.experiment_file import load_experiment  # noqa: E402

TARGET_PX = 700
WIDTH = 920
CMARK = "cmark-gfm"
CHROMIUM = "chromium"

# A small subset of GitHub's markdown-body CSS: enough for heights to match.
CSS = """
body { margin: 0; padding: 16px; width: 888px; box-sizing: border-box;
  font: 14px/1.5 -apple-system, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif; }
p, blockquote, ul, ol, table, pre, details { margin: 0 0 16px; }
blockquote { padding: 0 1em; border-left: .25em solid #d0d7de; }
blockquote > :last-child, details > :last-child { margin-bottom: 0; }
h2 { font-size: 1.5em; margin: 24px 0 16px; padding-bottom: .3em; }
h3 { font-size: 1.25em; margin: 24px 0 16px; }
h4 { font-size: 1em; margin: 24px 0 16px; }
table { border-collapse: collapse; display: block; overflow: auto; max-width: 100%; }
td, th { padding: 6px 13px; border: 1px solid #d0d7de; }
code { font-size: 85%; padding: .2em .4em; }
sub { font-size: 75%; }
hr { height: .25em; margin: 24px 0; border: 0; background: #d0d7de; }
"""
MEASURE = """
<script>
window.addEventListener("load", () => {
  document.querySelectorAll("details").forEach((d) => d.removeAttribute("open"));
  const out = document.createElement("output");
  out.id = "evalbot-height";
  out.textContent = String(Math.ceil(document.body.getBoundingClientRect().height));
  document.documentElement.appendChild(out);
});
</script>
"""


def to_html(markdown: str) -> str:
    """GitHub-flavoured HTML from cmark-gfm (the renderer GitHub uses)."""
    result = subprocess.run(
        [CMARK, "-e", "table", "-e", "strikethrough", "-e", "autolink", "--unsafe"],
        input=markdown.encode("utf-8"),
        capture_output=True,
        check=True,
    )
    return result.stdout.decode("utf-8")


def height(markdown: str) -> int:
    """The rendered height in px at WIDTH, every <details> folded."""
    page = (
        "<!doctype html><html><head><meta charset='utf-8'><style>"
        + CSS
        + "</style></head><body>"
        + to_html(markdown)
        + "</body>"
        + MEASURE
        + "</html>"
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "comment.html"
        path.write_text(page, encoding="utf-8")
        result = subprocess.run(
            [
                CHROMIUM,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                f"--user-data-dir={tmp}/profile",
                f"--window-size={WIDTH},2000",
                "--virtual-time-budget=2000",
                "--dump-dom",
                path.as_uri(),
            ],
            capture_output=True,
            timeout=120,
            check=True,
        )
    match = re.search(r'<output id="evalbot-height">(\d+)</output>', result.stdout.decode())
    if match is None:
        raise SystemExit("could not read the height back from Chromium")
    return int(match.group(1))


def comments() -> dict[str, str]:
    """The bundled example and a few other outcomes, as the Action would post them."""
    examples = ROOT / "examples"
    pr = load_experiment(examples / "pr.json")
    baseline = load_experiment(examples / "baseline.json")
    links = RunLinks(
        repository_url="https://github.com/acme/support-agent",
        run_url="https://github.com/acme/support-agent/actions/runs/1",
        head_sha=str(pr.metadata.get("commit", "")) or None,
    )
    outcomes: dict[str, tuple[Outcome, OnFetchFailure]] = {
        "example (hard regression)": (
            Ok(compare_buckets(pr, baseline, Thresholds())),
            OnFetchFailure.NEUTRAL,
        ),
        "clean pass": (
            Ok(compare_buckets(baseline, baseline, Thresholds())),
            OnFetchFailure.NEUTRAL,
        ),
        "no baseline": (
            NoBaseline(pr=pr, searched="prefix 'support-agent-main'"),
            OnFetchFailure.NEUTRAL,
        ),
        # A baseline that recorded nothing: every PR scenario is PR-only.
        "nothing compared (neutral)": (
            settle(compare_buckets(pr, replace(baseline, scenarios={}), Thresholds())),
            OnFetchFailure.NEUTRAL,
        ),
        "fetch failed (fail)": (
            FetchFailed(error="LangSmith did not answer after 3 tries (503)"),
            OnFetchFailure.FAIL,
        ),
    }
    out = {}
    for name, (outcome, on_fetch) in outcomes.items():
        gate = decide_gate(outcome, fail_on=FailOn.HARD_REGRESSION, on_fetch_failure=on_fetch)
        out[name] = render_comment(
            outcome,
            gate,
            comment_key="default",
            reproduce="evalbot compare --pr-file pr.json --baseline-file baseline.json",
            links=links,
        )
    return out


def main(argv: list[str] | None = None) -> int:
    """Print the table and the target lines; 1 when a target fails."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="Markdown files to measure instead")
    args = parser.parse_args(argv)
    for tool in (CMARK, CHROMIUM):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} is not installed: this benchmark needs it")
    if args.files:
        bodies = {str(path): path.read_text(encoding="utf-8") for path in args.files}
    else:
        bodies = comments()
    print(f"| comment | characters | tables | folded sections | height at {WIDTH} px |")
    print("| --- | --: | --: | --: | --: |")
    heights = {}
    for name, body in bodies.items():
        heights[name] = height(body)
        tables = len(re.findall(r"^\| -", body, flags=re.MULTILINE))
        folds = body.count("<details>")
        print(
            f"| {html.escape(name)} | {len(body):,} | {tables} | {folds} | {heights[name]:,} px |"
        )
    ok = True
    if not args.files:
        example = heights["example (hard regression)"]
        passed = example <= TARGET_PX
        ok &= passed
        print(
            f"{'PASS' if passed else 'FAIL'}: the example's comment is {example} px tall "
            f"(target ≤ about {TARGET_PX} px)"
        )
    longest = max(len(body) for body in bodies.values())
    fits = longest <= GITHUB_COMMENT_LIMIT
    ok &= fits
    print(f"{'PASS' if fits else 'FAIL'}: longest comment {longest:,} characters (≤ 65,536)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
