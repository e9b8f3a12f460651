"""Answering the digest by mail, end to end: the digest sent through aiosmtpd, the reply
delivered into a real Dovecot mailbox, synced, applied once; forged and stranger replies do
nothing; the next digest says what was done and what was not understood."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

import pytest

from agent.core.replies import Command, Unclear, parse
from agent.sample import write_sample
from tests.servers.dovecot import DovecotServer
from tests.servers.smtp import SmtpServer
from tests.test_acceptance import DAY, agent, copy_into_dovecot, imap_config


def test_lines_are_read_in_four_languages_and_quotes_are_not_the_writer_s() -> None:
    text = (
        "snooze 2 3w\n2 schlummern 1w\nscarta 4\nhecho 1\nmerge 3 6\nthanks!\n\n"
        "On Mon, 23 Nov 2026 Agent wrote:\n> forget 5\n"
    )
    found = parse(text)
    assert [c.verb for c in found if isinstance(c, Command)] == [
        "snooze", "snooze", "dismiss", "done", "merge",
    ]  # fmt: skip
    assert isinstance(found[-1], Unclear) and found[-1].line == "thanks!"
    assert found[0].duration is not None and found[0].duration.days == 21  # type: ignore[union-attr]
    assert isinstance(parse("snooze 2 soon")[0], Unclear)
    assert isinstance(parse("merge 3")[0], Unclear)
    assert parse("> snooze 1 2w") == [] and parse("-- \nsnooze 1") == []
    assert len(parse("done 1\n" * 500)) == 50  # a long reply is bounded


def _digest_mail(smtp: SmtpServer) -> Any:
    [mail] = smtp.messages
    return mail


def _reply(to_id: str, body: str, sender: str = "ana@example.org", n: int = 1) -> bytes:
    return (
        f"Message-ID: <reply-{n}@example.org>\r\nFrom: Ana <{sender}>\r\n"
        f"To: ana@example.org\r\nDate: Mon, 23 Nov 2026 09:00:00 +0000\r\n"
        f"Subject: Re: digest\r\nIn-Reply-To: {to_id}\r\nReferences: {to_id}\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}"
    ).encode()


@pytest.mark.dovecot
def test_a_reply_to_the_sent_digest_is_applied_once(
    tmp_path: Path, dovecot: DovecotServer, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    sample = write_sample(tmp_path / "sample")
    copy_into_dovecot(sample.parent / "Maildir", dovecot)
    monkeypatch.setenv("AGENT_TEST_IMAP_PASSWORD", dovecot.password)
    config = imap_config(sample, dovecot, f"sqlite:///{tmp_path / 'agent.db'}")
    config.write_text(
        config.read_text() + f'\n[digest]\nto = "ana@example.org"\n\n[smtp]\nhost = "127.0.0.1"\n'
        f'port = {smtp_server.port}\nsecurity = "none"\nfrom = "ana@example.org"\n'
    )
    agent(config, "sync")
    sent = agent(config, "digest", "--send", "--as-of", DAY).output
    mail = _digest_mail(smtp_server)
    body = mail.get_body(("plain",)).get_content()
    assert "Answer this mail" in body and "[1]" in body
    html = mail.get_body(("html",)).get_content()
    token_in_url = urllib.parse.quote(mail["Message-ID"], safe="")
    assert f"in-reply-to={token_in_url}" in html  # a mailto: link answers this very digest
    assert "body=snooze%201%202w" in html and "mailto:ana@example.org?subject=Re%3A" in html
    assert html.count("display:inline-block") >= 12  # a year's activity strip, CSS only
    assert "<img" not in html and "<script" not in html
    listed = json.loads(agent(config, "digest", "--as-of", DAY, "--format", "json").output)
    numbers = {(f["rule"], f["person"]["name"]): f["number"] for f in listed["findings"]}
    eve, dan = numbers[("reply-owed", "Eve Laurent")], numbers[("one-sided", "Dan Okafor")]
    token = mail["Message-ID"]
    reply = _reply(token, f"snooze {eve} 3w\ndone {dan}\nblah blah\n\n> forget 1\n")
    dovecot.save(reply)  # INBOX: the digest went to me, so does my reply
    dovecot.save(reply, "Sent")  # and my copy: the same reply, applied once
    dovecot.save(_reply("<digest.guessed@example.org>", "forget 1", n=2))  # no real digest
    dovecot.save(_reply(token, "forget 1", sender="mallory@evil.example", n=3))  # not me
    assert sent  # the send printed what it did
    agent(config, "sync")
    decisions = json.loads(agent(config, "decisions", "--format", "json").output)
    assert [(d["action"], d["origin"]) for d in decisions] == [("snooze", "mail"), ("log", "mail")]
    agent(config, "sync")  # synced again: nothing applied twice
    assert len(json.loads(agent(config, "decisions", "--format", "json").output)) == 2
    after = json.loads(agent(config, "digest", "--as-of", DAY, "--format", "json").output)
    said = after["summary"]["replies"]
    assert [r["line"] for r in said] == [f"snooze {eve} 3w", f"done {dan}", "blah blah"]
    assert said[2]["done"] is None and "snoozed Eve Laurent" in said[0]["done"]
    assert not any(f["person"]["name"] == "Eve Laurent" and f["rule"] == "reply-owed"
                   for f in after["findings"])  # fmt: skip
