"""agent/digest/render: every format in every language; hostile names stay inert."""

from __future__ import annotations

import json
from html.parser import HTMLParser

import pytest

from agent.core.person import Person
from agent.digest.build import Digest, build_digest
from agent.digest.render import FORMATS, render
from agent.digest.render.common import HEADINGS, MAX_PER_GROUP, MORE, NOTHING
from agent.digest.render.markdown import escape
from agent.i18n import LANGUAGES, translator
from rules.findings import Finding
from tests.digest_fixtures import AS_OF, CARLA, EVE, HOSTILE, finding, findings, reports

ALLOWED_TAGS = {"html", "head", "meta", "title", "body", "table", "tr", "td", "h1", "h2", "p",
                "div", "span"}  # fmt: skip


class TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(html: str) -> TagCollector:
    collector = TagCollector()
    collector.feed(html)
    collector.close()
    return collector


@pytest.fixture
def digest() -> Digest:
    return build_digest(reports(), findings(), AS_OF)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_and_language(digest: Digest, fmt: str, language: str) -> None:
    out = render(digest, fmt, language)
    assert out.endswith("\n")
    assert "Carla Diaz" in out
    if fmt == "json":
        assert json.loads(out) == json.loads(json.dumps(digest.to_json()))
        return
    _ = translator(language)
    for rule in ("reply-owed", "fading", "follow-up", "one-sided"):
        assert _(HEADINGS[rule]) in out
    assert "2026-11-20" in out
    if language != "en":
        assert "Your network" not in out  # the summary heading is translated


def test_headings_are_localized(digest: Digest) -> None:
    assert "Fading (1)" in render(digest, "text", "en")
    assert "Verblassend (1)" in render(digest, "text", "de")
    assert "Respuesta pendiente (1)" in render(digest, "markdown", "es")
    assert "Risposta in sospeso (1)" in render(digest, "html", "it")


def test_groups_appear_in_importance_order(digest: Digest) -> None:
    out = render(digest, "text", "en")
    positions = [out.index(h) for h in ("Reply owed (", "Fading (", "Follow up (", "One-sided (")]
    assert positions == sorted(positions)


def test_text_fits_the_terminal_width(digest: Digest) -> None:
    long = finding("fading", CARLA, silence_days=300)
    long = Finding(long.rule, long.severity, long.person, long.message + " word" * 60,
                   "x" * 150, long.evidence)  # fmt: skip
    for language in LANGUAGES:
        out = render(build_digest(reports(), [*findings(), long], AS_OF), "text", language)
        assert max(len(line) for line in out.splitlines()) <= 78


def test_text_item_layout(digest: Digest) -> None:
    out = render(digest, "text", "en")
    assert "  !  [2] Carla Diaz <carla@example.com>\n" in out  # [N]: what a reply names it by
    # The name prefix of the message is not repeated under the name.
    assert "     Fading for 199 days.\n" in out
    assert "     → Send Carla something useful.\n" in out


def test_no_findings_says_so() -> None:
    empty = build_digest(reports(), [], AS_OF)
    for language in LANGUAGES:
        _ = translator(language)
        for fmt in ("text", "markdown", "html"):
            flat = " ".join(render(empty, fmt, language).split())
            assert " ".join(_(NOTHING).split()[:4]) in flat


def test_html_is_a_complete_inert_document(digest: Digest) -> None:
    out = render(digest, "html", "de")
    assert out.startswith("<!DOCTYPE html>") and '<html lang="de">' in out
    parsed = parse(out)
    assert {tag for tag, _ in parsed.tags} <= ALLOWED_TAGS
    for _tag, attrs in parsed.tags:
        names = {name for name, _value in attrs}
        assert not {n for n in names if n.startswith("on")}
        assert not names & {"src", "href", "class", "id"}  # inline styles, nothing external
    assert "<script" not in out.lower() and "<style" not in out.lower()


def test_html_escapes_everything_from_mail(digest: Digest) -> None:
    out = render(digest, "html", "en")
    assert HOSTILE not in out
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &quot;&gt;&lt;img" in out
    assert "eve+&lt;b&gt;@evil.example" in out
    # The hostile name survives as text, exactly.
    assert HOSTILE in "".join(parse(out).text)


def test_markdown_escapes_names() -> None:
    assert escape("*bold* [x](http://e) <b>") == r"\*bold\* \[x\]\(http://e\) \<b\>"
    out = render(build_digest(reports(), findings(), AS_OF), "markdown", "en")
    assert "<script>" not in out and r"\<script\>" in out


def test_control_characters_never_reach_the_terminal() -> None:
    mallory = Person(11, "Mallory\x1b[2J\u202e", ("m@x.example",))
    sneaky = Finding("fading", "warning", mallory, "hi\r\nthere\x07", "", {})
    for fmt in ("text", "markdown", "html"):
        out = render(build_digest([], [sneaky], AS_OF), fmt, "en")
        assert "\x1b" not in out and "\x07" not in out and "\u202e" not in out and "\r" not in out


def test_empty_suggestion_gets_a_kind_default_in_the_reader_language() -> None:
    bare = Finding("reply-owed", "alert", EVE, "waiting", "", {})
    assert "Answer &lt;script&gt;" in render(build_digest([], [bare], AS_OF), "html", "en")
    bare = Finding("fading", "info", CARLA, "quiet", "", {})
    assert "Schick Carla etwas Nützliches" in render(build_digest([], [bare], AS_OF), "text", "de")


def test_user_rule_heading_is_its_readable_id() -> None:
    digest = build_digest([], [finding("fading-close", CARLA)], AS_OF)
    assert "Fading close (1)" in render(digest, "text", "de")


def test_unknown_format() -> None:
    with pytest.raises(ValueError, match="format"):
        render(build_digest([], [], AS_OF), "pdf", "en")


def test_a_person_with_several_findings_is_shown_once_with_all_of_them() -> None:
    found = [finding("reply-owed", CARLA, "alert"), finding("one-sided", CARLA, "info")]
    digest = build_digest([], found, AS_OF)
    text = render(digest, "text", "en")
    assert text.count("Carla Diaz <carla@example.com>") == 1 and "One-sided (" not in text
    assert "Also: One-sided — One-sided for 9 days." in " ".join(text.split())
    html = render(digest, "html", "de")
    assert "Außerdem: Einseitig</span> &mdash; One-sided for 9 days." in html
    assert {tag for tag, _ in parse(html).tags} <= ALLOWED_TAGS
    assert "*Además: Unilaterales* — One-sided for 9 days." in render(digest, "markdown", "es")


def many(count: int) -> Digest:
    people = [Person(100 + i, f"Person {i:02}", (f"p{i}@example.com",)) for i in range(count)]
    return build_digest([], [finding("fading", p) for p in people], AS_OF)


@pytest.mark.parametrize("language", LANGUAGES)
def test_long_groups_show_the_top_people_and_a_count(language: str) -> None:
    digest = many(MAX_PER_GROUP + 7)
    more = translator(language)(MORE).format(count=7)
    for fmt in ("text", "markdown", "html"):
        out = render(digest, fmt, language)
        assert f"({MAX_PER_GROUP + 7})" in out  # the heading still counts everyone
        assert f"Person {MAX_PER_GROUP - 1:02}" in out and f"Person {MAX_PER_GROUP:02}" not in out
        assert more in " ".join(out.replace("\\", "").split())
    assert len(json.loads(render(digest, "json", language))["findings"]) == MAX_PER_GROUP + 7


def test_short_groups_have_no_count_line() -> None:
    out = render(many(MAX_PER_GROUP), "text", "en")
    assert f"Person {MAX_PER_GROUP - 1:02}" in out and "more" not in out


def test_quotes_in_addresses_cannot_break_out_of_html() -> None:
    quoted = Person(12, 'O\'Brien "Bob"', ('"bob\\" onmouseover=\'x\'"@example.com',))
    out = render(build_digest([], [finding("fading", quoted)], AS_OF), "html", "en")
    assert "onmouseover='x'" not in out and '" onmouseover' not in out
    assert "&quot;bob\\&quot; onmouseover=&#x27;x&#x27;&quot;@example.com" in out
    assert "O&#x27;Brien &quot;Bob&quot;" in out
    for _tag, attrs in parse(out).tags:
        assert not any(name.startswith("on") for name, _value in attrs)
