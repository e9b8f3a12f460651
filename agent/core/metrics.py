"""Every per-person metric: name, unit and meaning, in one place.

The rules engine exposes exactly these names to `when` expressions, `agent people --format json`
prints them under "stats", and the README's metric table is generated from this list.
A metric that cannot be computed (a reply rate with no threads, gaps with one contact) is None;
in rule expressions any comparison with None is false.
"""

from __future__ import annotations

from dataclasses import dataclass

from agent.core.interactions import DIRECT_MAX_RECIPIENTS, GROUP_RECIPIENTS, MASS_RECIPIENTS
from agent.core.stats import (
    ANSWER_DAYS,
    ANSWER_MIN_DAYS,
    EPISODE_DAYS,
    RATE_DAYS,
    RECENT_DAYS,
    SILENCE_WINDOW,
)


@dataclass(frozen=True)
class Metric:
    name: str
    unit: str
    meaning: str


METRICS: tuple[Metric, ...] = (
    Metric(
        "personal_tie",
        "boolean",
        "I wrote to them directly (not group mail), we met, they are in [[people]], they "
        "answered a thread of mine, or a known tie introduced us",
    ),
    Metric("emails_sent", "messages", "distinct personal messages I sent to them (not group mail)"),
    Metric(
        "emails_received", "messages", "distinct personal messages they sent me (not group mail)"
    ),
    Metric("meetings", "meetings", "past calendar meetings with both of us (each occurrence)"),
    Metric("interactions", "count", "emails_sent + emails_received + meetings"),
    Metric(
        "mass_emails",
        "messages",
        f"messages with more than {MASS_RECIPIENTS} recipients between us; recorded, but not "
        "counted anywhere else",
    ),
    Metric(
        "group_emails",
        "messages",
        f"messages with more than {GROUP_RECIPIENTS} visible recipients (and at most "
        f"{MASS_RECIPIENTS}) between us; shown, but not a personal conversation",
    ),
    Metric("threads", "threads", "conversation threads between us (personal mail)"),
    Metric("threads_started_by_me", "threads", "threads whose earliest message I wrote"),
    Metric("threads_started_by_them", "threads", "threads whose earliest message they wrote"),
    Metric(
        "reciprocity_threads",
        "threads",
        "threads either of us started whose answer the archive could hold (mail in the "
        f"answering direction on {ANSWER_MIN_DAYS} days of the {ANSWER_DAYS} after the start); "
        "reply rates count only these",
    ),
    Metric(
        "started_by_me_share",
        "ratio 0-1",
        "threads_started_by_me / (threads started by either of us); None without threads",
    ),
    Metric("their_reply_rate", "ratio 0-1", "share of threads I started in which they wrote back"),
    Metric("my_reply_rate", "ratio 0-1", "share of threads they started in which I wrote back"),
    Metric("first_contact", "date", "day of the first interaction (in [me] timezone)"),
    Metric("last_contact", "date", "day of the latest interaction up to the as-of date"),
    Metric("last_sent", "date", "day I last wrote to them"),
    Metric("last_received", "date", "day they last wrote to me"),
    Metric("last_meeting", "date", "day we last met"),
    Metric("silence_days", "days", "days from last_contact to the as-of date"),
    Metric("days_since_first_contact", "days", "days from first_contact to the as-of date"),
    Metric("contact_days", "days", "distinct days with at least one interaction"),
    Metric(
        "gap_median_days",
        "days",
        "median gap between consecutive contact days; None with fewer than two contact days",
    ),
    Metric("gap_p90_days", "days", "90th percentile of those gaps: this tie's own long silence"),
    Metric(
        "episodes",
        "count",
        f"conversations: runs of contact days at most {EPISODE_DAYS} days apart count as one",
    ),
    Metric(
        "rhythm_days",
        "days",
        "median gap between the starts of consecutive episodes; None with fewer than two",
    ),
    Metric(
        "rhythm",
        "text",
        "rhythm_days in words ('about monthly', 'every 2-3 weeks'), in the digest's language",
    ),
    Metric(
        "silence_coverage",
        "ratio 0-1",
        f"share of the {SILENCE_WINDOW}-day stretches since last_contact in which the archive "
        "holds mail from me (to anyone); 0 when it holds no mail to me since; None under "
        f"{SILENCE_WINDOW} days of silence",
    ),
    Metric("gap_max_days", "days", "longest gap between consecutive contact days"),
    Metric(
        "silence_ratio",
        "ratio",
        "silence_days / gap_p90_days: how far beyond its own "
        "rhythm the tie is now; None without gaps",
    ),
    Metric(
        "interactions_90d",  # a name in users' rules: fixed, whatever RECENT_DAYS becomes
        "count",
        f"interactions in the {RECENT_DAYS} days up to the as-of date",
    ),
    Metric(
        "recent_rate",
        f"per {RATE_DAYS} days",
        f"interactions per {RATE_DAYS} days over the last {RECENT_DAYS} days",
    ),
    Metric(
        "earlier_rate",
        f"per {RATE_DAYS} days",
        f"interactions per {RATE_DAYS} days before the last {RECENT_DAYS} days (from first "
        "contact)",
    ),
    Metric(
        "trend",
        "ratio",
        "recent_rate / earlier_rate; below 1 is cooling, None without earlier history",
    ),
    Metric(
        "reply_owed",
        "boolean",
        f"a direct message from them (me in To, at most {DIRECT_MAX_RECIPIENTS} recipients, not "
        "an answer in a "
        "thread I wrote in) has had no message or meeting from me since, while the archive "
        "holds my mail to others after it",
    ),
    Metric("reply_owed_days", "days", "days that message has waited; None when nothing is owed"),
    Metric("reply_owed_since", "date", "day of that message; None when nothing is owed"),
    Metric("first_contact_meeting", "boolean", "our first-ever interaction was a meeting"),
    Metric("interactions_after_first", "count", "interactions after the first contact day"),
    Metric(
        "cadence_days",
        "days",
        "keep-in-touch target from [[people]] or [cadence] "
        "(shortest of their tags); None without one",
    ),
    Metric(
        "next_birthday",
        "date",
        "the next birthday, from an address book (29 February: the 28th in common years); "
        "None without one",
    ),
    Metric("next_birthday_days", "days", "days until next_birthday (0: today); None without one"),
    Metric("birthday_age", "years", "the age they turn then; None when the card has no year"),
    Metric(
        "birthday_note",
        "text",
        "' (turns 46)' where birthday_age is known, else '': in the digest's language",
    ),
    Metric("next_anniversary", "date", "the next anniversary, from an address book; None without"),
    Metric("next_anniversary_days", "days", "days until next_anniversary; None without one"),
    Metric("anniversary_years", "years", "the years it marks; None when the card has no year"),
    Metric(
        "anniversary_note",
        "text",
        "' (10 years)' where anniversary_years is known, else '': in the digest's language",
    ),
    Metric(
        "overdue_days",
        "days",
        "silence_days - cadence_days when positive, else 0; None without a cadence",
    ),
)

METRIC_NAMES: frozenset[str] = frozenset(m.name for m in METRICS)


def markdown_table() -> str:
    """The metric reference as a Markdown table (for the README and `agent rules list -v`)."""
    lines = ["| metric | unit | meaning |", "|---|---|---|"]
    lines += [f"| `{m.name}` | {m.unit} | {m.meaning} |" for m in METRICS]
    return "\n".join(lines)
