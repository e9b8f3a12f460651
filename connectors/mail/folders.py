"""Which mail folders to read by default: every one but Trash, Junk/Spam and Drafts.

Mail is filed into folders ("Projects", "Archive", "Clients/ACME"), and a reply filed there is
still a reply: reading only INBOX and Sent judged reciprocity half blind. Trash, spam and
unsent drafts are not the user's correspondence. Servers with SPECIAL-USE (RFC 6154) say which
is which; for the rest, the usual names in English, German, Spanish, Italian and French.
"""

from __future__ import annotations

from collections.abc import Iterable

# Special-use flags of folders never read by default, and the reason shown by `agent check`.
SKIPPED_FLAGS = {"\\trash": "trash", "\\junk": "junk", "\\drafts": "drafts"}
ALL_FLAG = "\\all"  # Gmail's All Mail: everything once; the label views would repeat it

_SKIPPED_NAMES = {
    "trash": (
        "trash", "deleted", "deleted items", "deleted messages", "bin", "papierkorb",
        "gelöschte elemente", "gelöschte objekte", "gelöscht", "papelera",
        "elementos eliminados", "cestino", "posta eliminata", "elementi eliminati",
        "corbeille", "éléments supprimés",
    ),
    "junk": (
        "junk", "spam", "junk e-mail", "junk email", "junk mail", "bulk mail", "junk-e-mail",
        "spamverdacht", "correo no deseado", "posta indesiderata", "indesiderata",
        "courrier indésirable", "pourriel",
    ),
    "drafts": ("drafts", "draft", "entwürfe", "borradores", "bozze", "brouillons"),
}  # fmt: skip
_BY_NAME = {name: reason for reason, names in _SKIPPED_NAMES.items() for name in names}
SENT_FLAG = "\\sent"
# Sent folders by the names clients give them (en/de/es/it/fr), Gmail's, and old exports'.
SENT_NAMES = frozenset((
    "sent", "sent items", "sent mail", "sent messages", "gesendet", "gesendete elemente",
    "gesendete objekte", "gesendete nachrichten", "enviados", "elementos enviados",
    "correo enviado", "posta inviata", "inviata", "elementi inviati", "inviati",
    "éléments envoyés", "envoyés", "messages envoyés",
))  # fmt: skip


def skip_reason(name: str, flags: Iterable[str] = (), delimiter: str = "/") -> str | None:
    """Why a folder is not read by default ("trash", "junk", "drafts"), or None to read it.

    ``skip_reason("Deleted Items")`` == ``"trash"``; ``skip_reason("[Gmail]/Spam")`` ==
    ``"junk"``; ``skip_reason("Archive/2020")`` is None.
    """
    for flag in flags:
        reason = SKIPPED_FLAGS.get(flag.lower())
        if reason is not None:
            return reason
    return _BY_NAME.get(_leaf(name, delimiter))


def is_sent(name: str, flags: Iterable[str] = (), delimiter: str = "/") -> bool:
    """A Sent folder, by its \\Sent special-use flag or its name: mail there is mine."""
    if any(f.lower() == SENT_FLAG for f in flags):
        return True
    return _leaf(name, delimiter) in SENT_NAMES


def _leaf(name: str, delimiter: str) -> str:
    leaf = name.rsplit(delimiter, 1)[-1] if delimiter else name
    return " ".join(leaf.replace("_", " ").split()).casefold()
