"""XOAUTH2 against a real Dovecot whose oauth2 passdb asks a token introspection endpoint."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from agent.config.secrets import SecretSpec
from agent.errors import OperationError
from agent.store.database import Store
from connectors.mail.imap import OAUTH2, ImapConnector
from tests.imap_helpers import ME_CONFIG, fill, open_store
from tests.servers.dovecot import DovecotServer, TokenIssuer

pytestmark = pytest.mark.dovecot


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return open_store(tmp_path / "agent.db")


def token_command(token: str) -> SecretSpec:
    # What a user's oauth2_token_command does: print a fresh access token.
    return SecretSpec(kind="command", value=f"printf '%s\\n' {token}", purpose=OAUTH2)


def test_access_token_from_a_command_logs_in_with_xoauth2(
    dovecot_oauth2: tuple[DovecotServer, TokenIssuer], store: Store
) -> None:
    server, issuer = dovecot_oauth2
    fill(server, inbox=3, sent=2)
    token = issuer.issue()
    account = server.account(secret=token_command(token))
    try:
        assert ImapConnector(account, ME_CONFIG).sync(store) == 5
    except OperationError as exc:
        pytest.fail(f"{exc}\nDovecot's log:\n{server.log[-3000:]}")
    assert set(issuer.asked) == {token}  # the server really checked the token with the issuer


def test_expired_token_is_a_clear_failure_and_never_logged(
    dovecot_oauth2: tuple[DovecotServer, TokenIssuer],
    store: Store,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, issuer = dovecot_oauth2
    fill(server, inbox=1, sent=0)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="imapclient")
    account = server.account(secret=token_command("expired-token-123"))
    with pytest.raises(OperationError) as err:
        ImapConnector(account, ME_CONFIG).sync(store)
    assert "expired-token-123" in issuer.asked
    assert "expired-token-123" not in str(err.value)
    assert "expired-token-123" not in caplog.text
    assert "as alice failed" in str(err.value)
