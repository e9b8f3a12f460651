"""The Enron mailboxes the evaluation reads, and who "me" is in each.

The addresses were found in the data: the senders of each mailbox's sent folders, and the
forms of the owner's address that others wrote to (a second address, an old alias). An
assistant who sends on the owner's behalf (Kay Chapman for David Delainey) is not the owner.
``as_of`` is the day after the mailbox's last real message: the digest the owner would have
read when the archive ends.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mailbox:
    name: str
    owner: str
    emails: tuple[str, ...]
    as_of: str


MAILBOXES: tuple[Mailbox, ...] = (
    Mailbox(
        "delainey-d",
        "David Delainey",
        ("david.delainey@enron.com", "w..delainey@enron.com", "david.w.delainey@enron.com"),
        "2002-01-25",
    ),
    Mailbox(
        "fossum-d", "Drew Fossum", ("drew.fossum@enron.com", "dfossum@enron.com"), "2001-07-14"
    ),
    Mailbox(
        "dean-c",
        "Craig Dean",
        ("craig.dean@enron.com", "clint.dean@enron.com"),
        "2002-02-08",
    ),
    Mailbox(
        "cuilla-m", "Martin Cuilla", ("martin.cuilla@enron.com", "mcuilla@enron.com"), "2002-01-02"
    ),
)
