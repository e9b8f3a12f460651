"""agent(1), generated from the command line itself: `make man`, or `python -m agent.cli.manpage`.

Every command, option and help text comes from the click definitions, so the page cannot
drift from what `agent --help` says; the sections around them (exit status, environment,
files) state the DESIGN.md contracts.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import date

import click

from agent import __version__

_SECTIONS = """\
.SH EXIT STATUS
.TP
.B 0
success
.TP
.B 1
an operation failed: a server unreachable, a login refused, SMTP down, a damaged database
.TP
.B 2
bad usage, a bad config or bad rules
.TP
.B 130 \\fRand\\fB 143
stopped by SIGINT (Ctrl-C) or SIGTERM; every whole batch is kept
.SH ENVIRONMENT
.TP
.B AGENT_CONFIG
the config file when \\fB\\-\\-config\\fR is not given
.TP
.B XDG_CONFIG_HOME\\fR, \\fBXDG_DATA_HOME
where the config and the database live by default
.TP
.B CREDENTIALS_DIRECTORY
systemd credentials, read by \\fBpassword_credential\\fR
.TP
.B NO_COLOR
when set, no colour (as \\fB\\-\\-color never\\fR)
.SH FILES
.TP
.I ~/.config/agent/config.toml
the configuration (see config.example.toml)
.TP
.I ~/.local/share/agent/agent.db
the database: metadata of mail and meetings, never message text
.SH SEE ALSO
The README, and config.example.toml for every configuration key.
"""


def render(root: click.Group, today: date | None = None) -> str:
    """The roff source of agent(1)."""
    ctx = click.Context(root, info_name="agent")
    day = (today or date.today()).isoformat()
    head = [
        f'.TH AGENT 1 "{day}" "agent {__version__}" "User Commands"',
        ".SH NAME",
        "agent \\- " + _text(root.help or "").split("\n")[0],
        ".SH SYNOPSIS",
        ".B agent",
        "[\\fIOPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]",
        ".SH DESCRIPTION",
        _text(root.help or ""),
        ".SH OPTIONS",
        *_options(root, ctx),
        ".SH COMMANDS",
    ]
    body = [line for path, cmd in _commands(root, ctx) for line in _command(path, cmd, ctx)]
    return "\n".join([*head, *body]) + "\n" + _SECTIONS


def _commands(
    group: click.Group, ctx: click.Context, prefix: str = ""
) -> Iterator[tuple[str, click.Command]]:
    for name in sorted(group.list_commands(ctx)):
        cmd = group.get_command(ctx, name)
        if cmd is None or cmd.hidden:
            continue
        path = f"{prefix} {name}".strip()
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, ctx, path)
        else:
            yield path, cmd


def _command(path: str, cmd: click.Command, ctx: click.Context) -> list[str]:
    args = " ".join(f"\\fI{p.human_readable_name.upper()}\\fR" for p in cmd.params
                    if isinstance(p, click.Argument))  # fmt: skip
    lines = [".SS " + f"agent {path} {args}".strip().replace("-", "\\-"), _text(cmd.help or "")]
    return lines + _options(cmd, ctx)


def _options(cmd: click.Command, ctx: click.Context) -> list[str]:
    lines: list[str] = []
    for param in cmd.params:
        if not isinstance(param, click.Option) or param.hidden:
            continue
        record = param.get_help_record(ctx)
        if record is None:
            continue
        names, help_text = record
        lines += [".TP", "\\fB" + _escape(names) + "\\fR", _text(help_text)]
    return lines


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("-", "\\-")


def _text(text: str) -> str:
    """Help text as roff body: escaped, and no line may start with a control character."""
    lines = [_escape(" ".join(part.split())) for part in text.strip().split("\n\n")]
    return "\n.PP\n".join("\\&" + line if line[:1] in ".'" else line for line in lines if line)


def main() -> None:
    from agent.cli.main import main as root

    sys.stdout.write(render(root))


if __name__ == "__main__":
    main()
