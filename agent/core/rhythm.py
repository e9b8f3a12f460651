"""A tie's rhythm in the words a person would use: "about monthly", not "every 29 days".

The number behind it is ``rhythm_days`` (agent/core/stats.py): the median gap between the starts of
conversations, so her mail and my answer the next day are one contact, not a daily rhythm.
The phrases are gettext msgids, translated when a finding's message is filled in.
"""

from __future__ import annotations

from agent.i18n import N_

# Upper bounds in days, each with its phrase; beyond the last: about once a year.
_PHRASES: tuple[tuple[float, str], ...] = (
    (2, N_("almost daily")),
    (5, N_("a few times a week")),
    (10, N_("about weekly")),
    (17, N_("every two weeks or so")),
    (24, N_("every 2-3 weeks")),
    (45, N_("about monthly")),
    (75, N_("every couple of months")),
    (120, N_("about every three months")),
    (240, N_("a few times a year")),
)
YEARLY = N_("about once a year")


def rhythm_words(days: float | None) -> str | None:
    """``rhythm_words(29.0)`` == ``"about monthly"``; None without a rhythm."""
    if days is None:
        return None
    for bound, phrase in _PHRASES:
        if days <= bound:
            return phrase
    return YEARLY
