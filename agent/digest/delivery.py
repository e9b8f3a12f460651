"""Build, send and record the digest: what `agent digest --send` and the daemon both do.

A send is recorded under a period id only after the SMTP server has accepted it, so a failed
send is retried (by the daemon) and a successful one never repeats for that period. A manual
send in a period that is already recorded still goes out (the user asked for it) and leaves
the existing record alone.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NamedTuple

from agent.config.settings import Config
from agent.core.interactions import Coverage
from agent.core.person import PersonReport
from agent.digest import mailer
from agent.digest.build import Digest, build_digest
from agent.digest.render import common, render
from agent.i18n import translator
from agent.store.database import Store
from rules.findings import Finding

log = logging.getLogger(__name__)


class Analysis(NamedTuple):
    """What a digest is built from: reports, findings, and what the archive covers."""

    reports: Sequence[PersonReport]
    findings: Sequence[Finding]
    coverage: Coverage | None = None
    hidden: dict[str, int] | None = None  # findings decisions hide, by kind (snoozed, ...)
    back: Sequence[str] = ()  # names whose snooze just ended
    activity: dict[int, tuple[int, ...]] | None = None  # person id -> per month (HTML strip)


Analyse = Callable[[Config, Store, datetime], Analysis]


@dataclass(frozen=True)
class DeliveryResult:
    period: str
    recipient: str
    digest: Digest
    message_id: str | None  # None when nothing was sent (send=False)
    recorded: bool  # False when not sent, or when the period was already recorded

    @property
    def findings(self) -> int:
        return len(self.digest.findings)


def analyse(config: Config, store: Store, as_of: datetime) -> Analysis:
    """Person reports and rule findings as of ``as_of``, messages in [me] language."""
    # Imported on use: both import much of the agent, and the daemon imports this module.
    from agent.core.decisions import apply, back_from_snooze
    from agent.core.pipeline import load_network
    from agent.digest.build import monthly
    from rules.engine import evaluate
    from rules.loader import load_rules

    ruleset = load_rules(config.rule_files)
    network = load_network(config, store, as_of)
    reports = network.reports
    findings = evaluate(ruleset, reports, translate=translator(config.me.language))
    decided = network.decisions
    shown, hidden = apply(findings, reports, decided, as_of.date())
    back = back_from_snooze(reports, decided, as_of.date())
    by_person = network.derived.by_person
    activity = {
        pid: monthly(by_person.get(network.canonical[pid], ()), config.me.tz, as_of)
        for pid in {f.person.id for f in shown}
        if pid in network.canonical
    }
    return Analysis(reports, shown, network.derived.coverage, hidden, back, activity)


def prepare_digest(
    config: Config, store: Store, as_of: datetime, *, analyse: Analyse = analyse
) -> Digest:
    """The digest as of ``as_of`` (a zone-aware datetime, usually App.as_of(...))."""
    result = analyse(config, store, as_of)
    digest = build_digest(
        result.reports,
        result.findings,
        as_of.date(),
        result.coverage,
        result.hidden,
        result.back,
    )
    if result.activity:
        digest = dataclasses.replace(digest, activity=dict(result.activity))
    replies = tuple((line, done) for _, line, done in store.pending_outcomes())
    if not replies:
        return digest
    summary = dataclasses.replace(digest.summary, replies=replies)
    return dataclasses.replace(digest, summary=summary)


def deliver_digest(
    config: Config,
    store: Store,
    now: datetime,
    *,
    period: str | None = None,
    send: bool = True,
    as_of: datetime | None = None,
    analyse: Analyse = analyse,
) -> DeliveryResult:
    """Build the digest as of ``as_of`` (default ``now``), e-mail it, then record it.

    ``period``: the schedule period the send belongs to (the daemon passes e.g. "2026-W48");
    by default the current period of [digest] every, or "manual-<UTC time>" without a
    schedule. Raises UserError (no [smtp] / [digest] to) before any work, OperationError
    when SMTP fails; nothing is recorded then.
    """
    env = mailer.envelope(config)
    period = period or default_period(config, now)
    digest = prepare_digest(config, store, as_of or now, analyse=analyse)
    if not send:
        return DeliveryResult(period, env.recipient, digest, None, recorded=False)
    pending = [n for n, _, _ in store.pending_outcomes()]
    digest, message_id = _answerable(config, env, digest)
    message = mailer.build_message(
        env, _subject(config, digest), _parts(config, digest), now, message_id
    )
    message_id = mailer.send(env, message)
    sent_at = now.astimezone(UTC)
    recorded = store.record_digest(period, message_id, env.recipient, len(digest.findings), sent_at)
    store.mark_outcomes_reported(pending)  # this digest told the user what their reply did
    if recorded:  # what the numbers mean, for a reply that names them
        store.record_items(period, (
            (n, f.rule, f.person.emails[0]) for n, f in enumerate(digest.findings, 1)
            if f.person.emails
        ))  # fmt: skip
    if not recorded:
        log.info("digest for period %s was already recorded; sent again on request", period)
    return DeliveryResult(period, env.recipient, digest, message_id, recorded)


def preview_digest(
    config: Config, store: Store, now: datetime, *, as_of: datetime | None = None,
    analyse: Analyse = analyse,
) -> str:  # fmt: skip
    """The message `agent digest --send` would send, as text; nothing is sent or recorded."""
    env = mailer.envelope(config)
    digest = prepare_digest(config, store, as_of or now, analyse=analyse)
    digest, message_id = _answerable(config, env, digest)
    message = mailer.build_message(
        env, _subject(config, digest), _parts(config, digest), now, message_id
    )
    return message.as_string()


def _answerable(config: Config, env: mailer.Envelope, digest: Digest) -> tuple[Digest, str]:
    """The digest as mailed: it says how to answer, and knows the Message-ID it answers to."""
    message_id = mailer.new_message_id(env)
    reply_to = (env.sender, message_id, _subject(config, digest))
    return dataclasses.replace(digest, answerable=True, reply_to=reply_to), message_id


def default_period(config: Config, now: datetime) -> str:
    """The period a send at ``now`` belongs to, so the daemon does not repeat a manual send."""
    spec = config.digest.every
    if spec is not None:
        local = now.astimezone(config.me.tz)
        return spec.period_id(spec.last_slot(local))
    # Compact UTC keeps the id within the 32 characters of digests.period.
    return f"manual-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}"


def _subject(config: Config, digest: Digest) -> str:
    return common.title(digest, translator(config.me.language))


def _parts(config: Config, digest: Digest) -> list[tuple[str, str]]:
    """(subtype, body) pairs, the [digest] format's part last: mail clients prefer the last."""
    language = config.me.language
    plain_format = "markdown" if config.digest.format == "markdown" else "text"
    plain = ("plain", render(digest, plain_format, language))
    html = ("html", render(digest, "html", language))
    return [html, plain] if config.digest.format in ("text", "markdown") else [plain, html]
