"""make eval's judgement on real mail holds: a regression in identity, threading or rules that
brings back wrong findings on the Enron mailboxes, or drops right ones, fails the suite."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.eval import run
from tests.eval.mailboxes import MAILBOXES
from tests.servers.common import corpora

pytestmark = pytest.mark.corpora

# The bar: at most 1 in 10 findings judged wrong still raised, 3 in 4 judged right kept.
MAX_WRONG_STILL_RAISED = 0.10
MIN_RIGHT_KEPT = 0.75


def test_enron_findings_against_the_hand_judgements(tmp_path: Path) -> None:
    corpora()  # skips without ../shared (fails under CI=true)
    found = [f for box in MAILBOXES for f in run.findings_of(box, False, tmp_path)]
    judged = run.load_judgements()
    verdicts = run.judge(found, judged)
    kept, right, still, wrong = run.recall(verdicts, judged)
    assert wrong and still / wrong <= MAX_WRONG_STILL_RAISED, (still, wrong)
    assert right and kept / right >= MIN_RIGHT_KEPT, (kept, right)
    judged_wrong = [f for f, v in verdicts.items() if v == "wrong"]
    assert len(judged_wrong) <= MAX_WRONG_STILL_RAISED * wrong
