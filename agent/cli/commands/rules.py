"""`agent rules check [FILE]` and `agent rules list`: validate rule files, show active rules."""

from __future__ import annotations

import json
from pathlib import Path

import click

from agent.cli.app import App
from agent.cli.commands.options import format_option
from agent.cli.textwidth import pad, terminal_columns, width, wrap
from agent.core.metrics import markdown_table


@click.group("rules")
def rules() -> None:
    """Validate rule files and list the active rules."""


@rules.command("check")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def check(app: App, file: Path | None) -> None:
    """Validate FILE (on top of the built-in rules), or every file in the config's [rules]."""
    from rules.loader import load_rules

    # A FILE alone needs no config: it can be checked before it is wired in.
    files = (file,) if file is not None else app.config.rule_files
    ruleset = load_rules(files)
    from_files = sum(1 for r in ruleset.rules if r.source != "builtin")
    sources = ", ".join(str(f) for f in files) or "built-in rules only"
    click.echo(
        f"OK: {len(ruleset.rules)} active rules ({len(ruleset.rules) - from_files} built-in, "
        f"{from_files} from files), {len(ruleset.settings)} settings; checked {sources}"
    )


@rules.command("list")
@format_option("table", "A table, or JSON with each rule's expression and texts.")
@click.option("-v", "--verbose", is_flag=True, help="Also show settings and the metrics.")
@click.pass_obj
def list_rules(app: App, fmt: str, verbose: bool) -> None:
    """The active rules in order: id, severity, where each came from, what it means."""
    from rules.loader import load_rules

    ruleset = load_rules(app.config.rule_files)
    if fmt == "json":
        data = [rule.to_json() for rule in ruleset.rules]
        if verbose:
            click.echo(json.dumps({"rules": data, "settings": ruleset.settings}, indent=2))
        else:
            click.echo(json.dumps(data, indent=2, ensure_ascii=False))
        return
    click.echo(_table([(r.id, r.severity, r.source, r.description) for r in ruleset.rules]))
    if verbose:
        click.echo("\nSettings:")
        click.echo(_table([(k, _number(v), "", "") for k, v in ruleset.settings.items()]))
        click.echo("\nMetrics:\n" + markdown_table())


def _table(rows: list[tuple[str, str, str, str]]) -> str:
    """Three fixed columns, then the description wrapped to the terminal beneath itself."""
    header = ("ID", "SEVERITY", "SOURCE", "DESCRIPTION")
    widths = [max(width(str(r[i])) for r in [header, *rows]) for i in range(3)]
    columns = terminal_columns()
    lines = []
    for row in [header, *rows]:
        lead = "  ".join(pad(str(c), w) for c, w in zip(row[:3], widths, strict=True)) + "  "
        if width(lead) > columns // 2:  # a long source path: the description goes below it
            lines.append(lead.rstrip())
            lead = "    "
        lines += [line.rstrip() for line in wrap(str(row[3]), columns, lead, " " * width(lead))]
    return "\n".join(lines)


def _number(value: float) -> str:
    return f"{value:g}"


COMMANDS: list[click.Command] = [rules]
