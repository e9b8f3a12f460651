"""Options shared by several commands."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import click

# --as-of takes the end of a day; these bounds keep "the end of the day" representable.
EARLIEST = date(1970, 1, 1)
LATEST = date(9999, 12, 30)
_RELATIVE = re.compile(r"^-(\d{1,5})([dw])$")


if TYPE_CHECKING:  # click 8.2+ types ParamType by value and input; 8.1 is not generic
    _DayType = click.ParamType[date, Any]
else:
    _DayType = click.ParamType


class Day(_DayType):
    """A day: ``2026-11-20``, ``today``, ``yesterday``, ``-7d`` or ``-2w`` (in [me] timezone)."""

    name = "date"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> date:
        if isinstance(value, date):
            return value
        text = str(value).strip().lower()
        today = _today(ctx)
        relative = _RELATIVE.match(text)
        if text in ("today", "now"):
            return today
        if text == "yesterday":
            return today - timedelta(days=1)
        if relative:
            days = int(relative.group(1)) * (7 if relative.group(2) == "w" else 1)
            return self._bounded(today - timedelta(days=days), value, param, ctx)
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            self.fail(f"{value!r} is not a date: use YYYY-MM-DD, today, yesterday or -7d",
                      param, ctx)  # fmt: skip
        try:
            day = date.fromisoformat(text)
        except ValueError as exc:
            self.fail(f"{value!r} is not a valid date ({exc})", param, ctx)
        return self._bounded(day, value, param, ctx)

    def _bounded(
        self, day: date, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> date:
        if not EARLIEST <= day <= LATEST:
            self.fail(f"{value!r} is out of range ({EARLIEST} to {LATEST})", param, ctx)
        return day


def _today(ctx: click.Context | None) -> date:
    """Today in [me] timezone when the config is loaded, else on this machine's clock."""
    from agent.cli.app import App

    app = ctx.find_object(App) if ctx is not None else None
    try:
        return datetime.now(app.config.me.tz).date() if app is not None else date.today()
    except Exception:  # noqa: BLE001 - a bad config is reported by the command itself
        return date.today()


def as_of_option(func: Any) -> Any:
    return click.option(
        "--as-of",
        "as_of",
        type=Day(),
        default=None,
        metavar="DATE",
        help="Evaluate as of the end of this day (YYYY-MM-DD, today, yesterday, -7d), "
        "for reproducible results.",
    )(func)


Command = TypeVar("Command", bound=Callable[..., Any])


def format_option(human: str, help: str) -> Callable[[Command], Command]:
    """``--format HUMAN|json``: every command that prints data offers JSON for scripts."""
    return click.option(
        "--format", "fmt", type=click.Choice([human, "json"]), default=human, show_default=True,
        help=help,
    )  # fmt: skip


def as_date(value: date | datetime | None) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    return value
