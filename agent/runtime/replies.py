"""After a sync: replies to a sent digest become decisions (agent/core/replies.py reads them).

A reply counts only when it answers a digest the agent sent (the digest's unguessable
Message-ID in In-Reply-To or References), comes from one of `[me] emails`, and has not been
applied before, from this folder or any other. Its text is read from the server or the
Maildir for that moment and never stored; what was done, and each line not understood, is
kept for the next digest to say.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from agent.config.settings import Config
from agent.core.decisions import episode
from agent.core.model import Decision
from agent.core.person import PersonReport
from agent.core.replies import Command, Unclear, parse
from agent.errors import AgentError
from agent.store.database import Store
from connectors import connector_for

log = logging.getLogger(__name__)

MAX_AGE = timedelta(days=60)  # a reply to an older digest is not applied, and said so
Outcome = tuple[str, str | None]  # (the line, what was done or None when not understood)


def process(config: Config, store: Store, now: datetime) -> int:
    """Apply every new reply to a digest; returns how many replies were applied."""
    parents = store.digest_message_ids()
    if not parents:
        return 0
    done = store.replied()
    found = store.reply_candidates(set(parents), set(config.me.emails))
    applied = 0
    for key, parent, source, folder, location in found:
        account = next((a for a in config.accounts if a.name == source), None)
        if key in done or account is None:
            continue
        period, sent_at = parents[parent]
        if now - sent_at > MAX_AGE:  # the numbers of an old digest no longer mean the same
            if store.claim_reply(key, period):
                store.add_outcomes([(f"a reply to the digest of {period}", None)])
            continue
        try:
            text = connector_for(account, config.me).message_text(folder, location)  # type: ignore[attr-defined]
        except AgentError as exc:
            log.warning("a reply to the digest in %s/%s: cannot read it (%s)", source, folder, exc)
            continue
        if not store.claim_reply(key, period):
            continue  # applied meanwhile, from another copy
        store.add_outcomes(apply(config, store, period, text, now))
        applied += 1
    return applied


def apply(config: Config, store: Store, period: str, text: str, now: datetime) -> list[Outcome]:
    """Each line of a reply to the digest of ``period``, done or said not understood."""
    items = store.digest_items(period)
    people = _People(config, store, now)
    outcomes: list[Outcome] = []
    for parsed in parse(text):
        if isinstance(parsed, Unclear):
            outcomes.append((parsed.line, None))
            continue
        missing = [n for n in parsed.numbers if n not in items]
        if missing:
            outcomes.append((parsed.line, None))
            continue
        outcomes.append((parsed.line, _decide(store, parsed, items, people, now)))
    return outcomes


def _decide(
    store: Store,
    command: Command,
    items: dict[int, tuple[str, str]],
    people: _People,
    now: datetime,
) -> str:
    rule, person = items[command.numbers[0]]
    name = people.name(person)
    today = now.date()
    if command.verb == "snooze":
        until = today + (command.duration or timedelta(weeks=2))
        store.add_decision(Decision("snooze", person, rule=rule, until=until, origin="mail"))
        return f"snoozed {name} ({rule}) through {until.isoformat()}"
    if command.verb == "dismiss":
        value = episode(rule, people.stats(person))
        store.add_decision(Decision("dismiss", person, rule=rule, value=value, origin="mail"))
        return f"dismissed {rule} for {name}"
    if command.verb == "done":
        note = "in touch (a reply to the digest)"
        store.add_decision(Decision("log", person, value="other", day=today, note=note,
                                    origin="mail"))  # fmt: skip
        return f"logged a contact with {name} today"
    if command.verb == "forget":
        store.add_decision(Decision("forget", person, note="a reply to the digest", origin="mail"))
        return f"forgot {name}"
    _, other = items[command.numbers[1]]
    store.add_decision(Decision("merge", person, value=other, note=name, origin="mail"))
    return f"merged {people.name(other)} into {name}"


class _People:
    """The reports as of now, computed once and only when a line needs a name or stats."""

    def __init__(self, config: Config, store: Store, now: datetime) -> None:
        self.config, self.store, self.now = config, store, now
        self._reports: list[PersonReport] | None = None

    def _find(self, email: str) -> PersonReport | None:
        if self._reports is None:
            from agent.core.pipeline import load_reports

            self._reports = load_reports(self.config, self.store, self.now)
        return next((r for r in self._reports if email in r.person.emails), None)

    def name(self, email: str) -> str:
        report = self._find(email)
        return report.person.name if report else email

    def stats(self, email: str) -> dict[str, object]:
        report = self._find(email)
        return dict(report.stats) if report else {}
