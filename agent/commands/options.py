"""Options shared by several commands."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import click


def as_of_option(func: Any) -> Any:
    return click.option(
        "--as-of",
        "as_of",
        type=click.DateTime(["%Y-%m-%d"]),
        default=None,
        metavar="DATE",
        help="Evaluate as of the end of this day (YYYY-MM-DD), for reproducible results.",
    )(func)


def as_date(value: datetime | None) -> date | None:
    return value.date() if value is not None else None
