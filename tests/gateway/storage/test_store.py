"""The store on SQLite and PostgreSQL: users, hashed keys, encrypted connections."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select, text

from training_gateway.adapters.base import Credentials
from training_gateway.gateway.storage import Store, TokenVault, VaultError
from training_gateway.gateway.storage.migrate import upgrade
from training_gateway.gateway.storage.store import hash_api_key
from training_gateway.gateway.storage.tables import api_keys, connections
from training_gateway.models.errors import InvalidInput, NotFound


async def test_api_key_resolves_its_user_until_revoked(store: Store) -> None:
    alice = await store.create_user("alice")
    key = await store.issue_api_key(alice)
    assert key.startswith("gw_") and len(key) > 40
    assert await store.user_for_api_key(key) == alice
    assert await store.user_for_api_key(key + "x") is None
    assert await store.revoke_api_keys(alice) == 1
    assert await store.user_for_api_key(key) is None


async def test_api_keys_are_stored_only_as_hashes(store: Store) -> None:
    alice = await store.create_user("alice")
    key = await store.issue_api_key(alice)
    async with store.engine.connect() as conn:
        stored = (await conn.execute(select(api_keys.c.key_hash))).scalars().all()
    assert stored == [hash_api_key(key)]
    assert key not in stored


async def test_duplicate_user_is_refused_naming_the_field(store: Store) -> None:
    await store.create_user("alice")
    with pytest.raises(InvalidInput) as exc:
        await store.create_user("alice")
    assert exc.value.field == "name"
    with pytest.raises(NotFound):
        await store.user_by_name("bob")


async def test_connection_tokens_are_encrypted_at_rest_and_per_user(store: Store) -> None:
    alice, bob = await store.create_user("alice"), await store.create_user("bob")
    secret = "access-token-that-must-not-be-stored-plainly"
    await store.save_connection(alice, "astral", Credentials(access_token=secret, subject="u1"))
    async with store.engine.connect() as conn:
        raw = (await conn.execute(select(connections.c.access_token_enc))).scalars().all()
    assert len(raw) == 1 and secret not in raw[0]
    found = await store.connections(alice)
    assert found["astral"].credentials.access_token == secret
    assert found["astral"].credentials.subject == "u1"
    assert await store.connections(bob) == {}
    await store.save_connection(alice, "astral", Credentials(access_token="rotated"))
    again = await store.connections(alice)
    assert again["astral"].credentials.access_token == "rotated"
    async with store.engine.connect() as conn:
        count = (await conn.execute(text("SELECT count(*) FROM connections"))).scalar_one()
    assert count == 1


async def test_vault_rotation_keeps_old_ciphertexts_readable() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    ciphertext = TokenVault([old]).encrypt("s3cret")
    rotated_vault = TokenVault([new, old])
    assert rotated_vault.decrypt(ciphertext) == "s3cret"
    assert TokenVault([new]).decrypt(rotated_vault.rotate(ciphertext)) == "s3cret"
    with pytest.raises(VaultError):
        TokenVault([new]).decrypt(ciphertext)


def test_credentials_repr_never_shows_the_token() -> None:
    assert "tok123" not in repr(Credentials(access_token="tok123", subject="s"))


async def test_the_raw_sqlite_file_holds_no_token_or_key_text(
    tmp_path: Path, vault: TokenVault
) -> None:
    path = tmp_path / "gateway.sqlite3"
    store = Store.open(f"sqlite+aiosqlite:///{path}", vault)
    await upgrade(store.engine)
    alice = await store.create_user("alice")
    key = await store.issue_api_key(alice)
    token, refresh = "eyJraWQiOiJzZWNyZXQtYWNjZXNzLXRva2Vu", "refresh-token-never-plain-2f9c"
    await store.save_connection(
        alice, "sweatstack", Credentials(access_token=token), refresh_token=refresh
    )
    await store.close()
    raw = _read_files(tmp_path, "gateway.sqlite3*")
    assert b"alice" in raw  # the file really holds the data
    for secret in (token, refresh, key):
        assert secret.encode() not in raw


def _read_files(folder: Path, pattern: str) -> bytes:
    """Every byte of the database file and its journals, as they lie on disk."""
    return b"".join(p.read_bytes() for p in sorted(folder.glob(pattern)))
