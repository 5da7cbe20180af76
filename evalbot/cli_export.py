"""``evalbot export``: snapshot a LangSmith experiment (or convert a file) as JSON or CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from evalbot.cli_common import FILE, OneOf, live_options, option, raw_from, write
from evalbot.errors import EXIT_PASS, InputError


@click.command()
@click.argument("experiment", required=False, envvar="EVALBOT_EXPERIMENT")
@option(
    "--experiment-file",
    type=FILE,
    help="Instead of EXPERIMENT: an experiment file (JSON) to convert, no LangSmith needed.",
)
@option(
    "--format",
    "fmt",
    type=OneOf(["json", "csv"]),
    default="json",
    show_default=True,
    help="json: an experiment file; csv: one row per scenario, for spreadsheets.",
)
@live_options
@option(
    "--output",
    "-o",
    type=FILE,
    help="Write the experiment file here instead of standard output.",
)
def export(
    experiment: str | None,
    experiment_file: Path | None,
    fmt: str,
    output: Path | None,
    **live: Any,
) -> int:
    """Snapshot a LangSmith EXPERIMENT (name or id) as an experiment file or CSV.

    Comparing two exports offline gives the same report as the live
    comparison (apart from its ``fetch`` section). With --experiment-file,
    converts a file instead (e.g. to CSV) without LangSmith.
    """
    from evalbot.output.csv_export import experiment_csv
    from evalbot.sources.experiment_file import bucket_to_document, load_experiment

    if (experiment is None) == (experiment_file is None):
        raise InputError(
            "EXPERIMENT: give exactly one of a LangSmith experiment or --experiment-file"
        )
    if experiment_file is not None:
        bucket = load_experiment(experiment_file)
    else:
        assert experiment is not None  # exactly one of the two, checked above
        from evalbot.settings import cli_name, parse_connection, parse_rules
        from evalbot.sources.langsmith.source import LangSmithSource
        from evalbot.sources.langsmith.source import export as export_bucket

        raw = raw_from(live, pr=experiment)
        connection = parse_connection(raw, name=cli_name)
        rules = parse_rules(raw, name=cli_name)
        bucket = export_bucket(
            LangSmithSource(connection), experiment, rules=rules, name=cli_name, option="EXPERIMENT"
        )
    if fmt == "csv":
        document = experiment_csv(bucket)
    else:
        import json  # here, not at the top: `evalbot --help` never needs it

        document = json.dumps(bucket_to_document(bucket), indent=2, ensure_ascii=False) + "\n"
    write(document, output)
    return EXIT_PASS
