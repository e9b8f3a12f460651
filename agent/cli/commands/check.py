"""`agent check [--offline]`: validate config and rules, then log in to each source."""

from __future__ import annotations

import json
from typing import Any

import click

from agent.cli.app import App
from agent.cli.colour import paint
from agent.config.settings import AccountConfig, SourceConfig
from agent.errors import AgentError, OperationError, UserError
from agent.runtime.sync import source_configs
from agent.safe_text import clean, json_for_terminal
from agent.store.database import Store, integrity_problem, sqlite_path
from connectors import connector_for
from connectors.mail.folders import is_sent


class _Report:
    """What check found, printed line by line, or gathered for --format json."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.data: dict[str, Any] = {"sources": [], "hints": []}

    def say(self, key: str, text: str, **fields: Any) -> None:
        if self.as_json:
            if key in ("sources", "hints"):
                self.data[key].append(fields)
            else:
                self.data[key] = fields
        else:
            click.echo(text)

    def flush(self) -> None:
        if self.as_json:
            click.echo(json_for_terminal(json.dumps(self.data, indent=2, ensure_ascii=False)))


@click.command()
@click.option("--offline", is_flag=True, help="Do not contact any server.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text",
              show_default=True, help="json: one object, for scripts.")  # fmt: skip
@click.pass_obj
def check(app: App, offline: bool, fmt: str) -> None:
    """Validate config and rules; with the network, log in to each source."""
    out = _Report(fmt == "json")
    try:
        _run_checks(app, offline, out)
    finally:
        out.flush()


def _run_checks(app: App, offline: bool, out: _Report) -> None:
    config = app.config
    out.say("config", f"config: ok ({config.path})", ok=True, path=str(config.path))
    ruleset = _load_rules(app)
    out.say("rules", f"rules: ok ({ruleset})", ok=True, detail=ruleset)
    if _check_database(app, out):
        _suggest_own_addresses(app, app.store(write=False), out)
    # Offline, local sources (a Maildir, a calendar file) are still read: no network needed.
    sources = [s for s in source_configs(config) if not offline or _is_local(s)]
    errors = [e for e in (_check_source(app, s, out) for s in sources) if e is not None]
    if errors:
        names = ", ".join(name for name, _ in errors)
        if any(isinstance(e, UserError) for _, e in errors):
            raise UserError(f"cannot use {names}: fix the config")
        raise OperationError(f"cannot use {names}")


# Shown once an address has this many messages behind it: one stray copy is no evidence.
OWN_MIN_MESSAGES = 2


def _check_database(app: App, out: _Report) -> bool:
    """Report the database without creating one: validation writes nothing new. True when
    it exists and is sound (then it is opened, and migrated if an older agent wrote it)."""
    path = sqlite_path(app.config.database_url)
    if path is not None and not path.exists():
        out.say("database", f"database: {path} does not exist yet; `agent sync` creates it",
                ok=True, exists=False, path=str(path))  # fmt: skip
        return False
    if path is not None:
        problem = integrity_problem(path)
        if problem is not None:
            out.say("database", "", ok=False, path=str(path), problem=clean(problem))
            raise OperationError(
                f"database {path} is damaged ({clean(problem)}): move it aside "
                f"(mv {path} {path}.broken) and run `agent sync`, which reads your mail again"
            )
    app.store(write=False)
    out.say("database", "database: ok", ok=True, exists=True)
    return True


def _suggest_own_addresses(app: App, store: Store, out: _Report) -> None:
    """Addresses that look like the user's own but are not in [me] emails: each would be
    taken for another person, whom the user 'owes' their own mail."""
    folders = [f for f in store.stored_folders() if is_sent(f)]
    me = {e.lower() for e in app.config.me.emails}
    found = store.own_address_candidates(folders)
    for email, count in sorted(found.items(), key=lambda kv: (-kv[1], kv[0])):
        if email not in me and count >= OWN_MIN_MESSAGES:
            out.say(
                "hints",
                f"hint: {clean(email)} looks like one of your addresses ({count} messages in Sent "
                "folders or delivered to it); if it is, add it to [me] emails",
                own_address=clean(email), messages=count,
            )  # fmt: skip


def _is_local(source: SourceConfig) -> bool:
    if isinstance(source, AccountConfig):
        return source.type == "maildir"
    return source.type == "ics" and ("://" not in source.url or source.url.startswith("file:"))


def _load_rules(app: App) -> str:
    from rules.loader import load_rules

    ruleset = load_rules(app.config.rule_files)
    return f"{len(ruleset.rules)} active rules"


def _check_source(app: App, source: SourceConfig, out: _Report) -> tuple[str, AgentError] | None:
    name = source.name
    try:
        detail = connector_for(source, app.config.me).check()
    except AgentError as exc:
        failed = paint("FAILED", "failed")
        out.say("sources", f"{name}: {failed}: {clean(exc)}", name=name, ok=False, error=clean(exc))
        return name, exc
    ok = paint("ok", "ok")
    out.say("sources", f"{name}: {ok}: {clean(detail)}", name=name, ok=True, detail=clean(detail))
    return None


COMMANDS = [check]
