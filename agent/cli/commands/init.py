"""`agent init`: a working config in a few questions, the login tested, the first sync offered.

Everything it asks has a flag, so scripts run it with ``--yes`` and no prompts. The answers
become TOML that the config reader checks before the file is written; an existing config is
never replaced without ``--force`` or a yes to the question.
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from agent.cli.app import App
from agent.cli.colour import paint
from agent.config import writer
from agent.config.providers import BY_KEY, KINDS, LOGIN_HINTS, Provider, guess
from agent.config.settings import SECURITY, find_config_path, system_timezone, valid_zone
from agent.errors import AgentError, UserError
from agent.i18n import LANGUAGES
from connectors import connector_for


@dataclass
class _Ask:
    """A question, or with --yes the given or detected answer (or an error naming the flag)."""

    interactive: bool

    def text(self, prompt: str, given: str | None, default: str = "", flag: str = "") -> str:
        if given:
            return given
        if self.interactive:
            return str(click.prompt(prompt, default=default or None, show_default=bool(default)))
        if default or not flag:
            return default
        raise UserError(f"agent init --yes needs {flag}")

    def optional(self, prompt: str, given: str | None) -> str:
        if given is not None or not self.interactive:
            return given or ""
        return str(click.prompt(prompt, default="", show_default=False)).strip()

    def choice(self, prompt: str, options: tuple[str, ...], given: str | None, default: str) -> str:
        if given:
            return given
        if not self.interactive:
            return default
        kind = click.Choice(options)
        return str(click.prompt(prompt, type=kind, default=default, show_choices=True))


@click.command("init")
@click.option("--name", help="Your name.")
@click.option("--email", "emails", multiple=True, help="An address that is you (repeat).")
@click.option("--timezone", help="IANA time zone (default: this machine's).")
@click.option("--language", type=click.Choice(LANGUAGES), help="Digest language.")
@click.option("--provider", type=click.Choice(KINDS), help="Mail provider, custom or maildir.")
@click.option("--host", help="IMAP server (custom provider).")
@click.option("--port", type=click.IntRange(1, 65535), help="IMAP port (custom provider).")
@click.option("--security", type=click.Choice(SECURITY), help="IMAP security (custom).")
@click.option("--username", help="IMAP login name (default: your first address).")
@click.option("--password-command", help="A command that prints the password.")
@click.option("--password-env", help="An environment variable that holds the password.")
@click.option("--oauth2-token-command", help="A command that prints an OAuth2 access token.")
@click.option("--maildir", "maildir_path", metavar="PATH", help="Read a local Maildir instead.")
@click.option("--calendar", "calendar_url", metavar="URL", help="An .ics file or feed.")
@click.option("--digest-to", metavar="ADDRESS", help="Where the weekly digest goes.")
@click.option("-y", "--yes", is_flag=True, help="Ask nothing: flags and detected defaults.")
@click.option("--force", is_flag=True, help="Replace an existing config file.")
@click.option("--check/--no-check", "test_login", default=True, help="Log in once to test.")
@click.option("--sync/--no-sync", "first_sync", default=None, help="Run the first sync.")
@click.pass_context
def init(ctx: click.Context, /, **options: Any) -> None:
    """Write a working config: you, one mail account, optionally a calendar and the digest."""
    app: App = ctx.obj
    path = find_config_path(app.config_path)
    ask = _Ask(interactive=not options["yes"])
    _guard(path, options["force"], ask)
    answers = _answers(ask, options)
    text = writer.render(answers)
    config = writer.check(text, path)
    writer.write(path, text)
    click.echo(f"wrote {path}")
    if options["test_login"]:
        _test_login(config, path)
    app.config_path, app._config = str(path), config
    first_sync = options["first_sync"]
    if first_sync is None:
        first_sync = ask.interactive and click.confirm("Run the first sync now?", default=True)
    if first_sync:
        from agent.cli.commands.sync import sync

        ctx.invoke(sync, source=None, fmt="text")
    click.echo(
        "next: `agent digest` shows what needs your attention; `agent people` lists everyone"
    )


def _guard(path: Path, force: bool, ask: _Ask) -> None:
    if not path.exists() or force:
        return
    if ask.interactive and click.confirm(f"{path} exists. Replace it?", default=False):
        return
    raise UserError(f"{path} exists; agent init leaves it alone (--force replaces it)")


def _answers(ask: _Ask, options: dict[str, Any]) -> writer.Answers:
    name = ask.text("Your name", options["name"], _user_name())
    given = ",".join(options["emails"])
    emails = _emails(ask.text("Your e-mail addresses (comma-separated)", given, flag="--email"))
    timezone = ask.text("Time zone", options["timezone"], system_timezone())
    if not valid_zone(timezone):
        raise UserError(f"unknown time zone {timezone!r} (use an IANA name like Europe/Berlin)")
    language = ask.choice("Digest language", LANGUAGES, options["language"], _language())
    account, provider = _account(ask, options, emails[0])
    calendar = ask.optional("A calendar: .ics file or URL (empty: none)", options["calendar_url"])
    digest_to = ask.optional("Send the weekly digest to (empty: none)", options["digest_to"])
    smtp = _smtp(account, provider) if digest_to else {}
    return writer.Answers(name, emails, timezone, language, account, calendar, digest_to, smtp)


def _account(
    ask: _Ask, options: dict[str, Any], email: str
) -> tuple[dict[str, object], Provider | None]:
    kind = "maildir" if options["maildir_path"] and not options["provider"] else None
    kind = ask.choice("Mail provider", KINDS, options["provider"] or kind, guess(email))
    if kind == "maildir":
        folder = ask.text("Maildir folder", options["maildir_path"], "~/Mail")
        return {"name": "mail", "type": "maildir", "path": folder}, None
    preset = BY_KEY.get(kind)
    security: str
    if preset is not None:
        host, port, security = preset.imap.host, preset.imap.port, preset.imap.security
    else:
        host = ask.text("IMAP server", options["host"], flag="--host")
        security = ask.choice("Security", SECURITY, options["security"], "ssl")
        port = 993 if security == "ssl" else 143
    table: dict[str, object] = {
        "name": kind if preset else "mail", "type": "imap", "host": options["host"] or host,
        "port": options["port"] or port, "security": options["security"] or security,
        "username": ask.text("Login name", options["username"], email),
    }  # fmt: skip
    return {**table, **_secret(ask, options, preset)}, preset


_SECRET_WAYS = ("command", "env", "oauth2", "password")


def _secret(ask: _Ask, options: dict[str, Any], preset: Provider | None) -> dict[str, str]:
    for key in ("password_command", "password_env", "oauth2_token_command"):
        if options[key]:
            return {key: options[key]}
    if not ask.interactive:
        raise UserError(
            "agent init --yes needs --password-command, --password-env or --oauth2-token-command"
        )
    if preset is not None and LOGIN_HINTS[preset.login]:
        click.echo("note: " + LOGIN_HINTS[preset.login].format(name=preset.name))
    default = "oauth2" if preset is not None and preset.login == "oauth2" else "command"
    way = ask.choice("How does the agent get the password", _SECRET_WAYS, None, default)
    if way == "command":
        return {"password_command": ask.text("Command that prints it", None, "pass show mail")}
    if way == "env":
        return {"password_env": ask.text("Environment variable", None, "MAIL_PASSWORD")}
    if way == "oauth2":
        return {"oauth2_token_command": ask.text("Command that prints a token", None)}
    click.echo("warning: the password will be stored in the config file; a command is safer")
    return {"password": str(click.prompt("Password", hide_input=True))}


def _smtp(account: dict[str, object], provider: Provider | None) -> dict[str, object]:
    """Send the digest through the same provider with the same login, where it is known."""
    if provider is None:
        return {}
    secret = {k: v for k, v in account.items() if k.startswith(("password", "oauth2"))}
    server = provider.smtp
    return {"host": server.host, "port": server.port, "security": server.security,
            "username": account["username"], **secret}  # fmt: skip


def _test_login(config: Any, path: Path) -> None:
    account = config.accounts[0]
    try:
        detail = connector_for(account, config.me).check()
    except AgentError:
        failed = paint("FAILED", "failed")
        click.echo(f"{account.name}: {failed} (the config is kept: fix {path}, then `agent check`)")
        raise
    click.echo(f"{account.name}: {paint('ok', 'ok')}: {detail}")


def _emails(text: str) -> tuple[str, ...]:
    found = tuple(e.strip().lower() for e in text.replace(";", ",").split(",") if e.strip())
    if not found:
        raise UserError("give at least one e-mail address that is you")
    return found


def _user_name() -> str:
    try:
        return pwd.getpwuid(os.getuid()).pw_gecos.split(",")[0].strip()
    except (KeyError, OSError):
        return ""


def _language() -> str:
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        code = os.environ.get(var, "")[:2].lower()
        if code:
            return code if code in LANGUAGES else "en"
    return "en"


COMMANDS: list[click.Command] = [init]
