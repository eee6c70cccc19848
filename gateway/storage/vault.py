"""Encryption at rest for provider tokens: MultiFernet, newest key first, old keys still decrypt."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class VaultError(Exception):
    """A stored secret cannot be decrypted with any configured key."""


class TokenVault:
    """Encrypts and decrypts secrets; `keys` are Fernet keys, the first is used for new writes."""

    def __init__(self, keys: Sequence[str]) -> None:
        if not keys:
            raise ValueError("the token vault needs at least one key (GATEWAY_SECRET_KEY)")
        try:
            self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])
        except (ValueError, TypeError):
            raise ValueError(
                "GATEWAY_SECRET_KEY must hold Fernet keys (32 url-safe base64 bytes), comma-separated"
            ) from None

    def encrypt(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise VaultError(
                "a stored secret cannot be decrypted with the configured keys"
            ) from None

    def rotate(self, token: str) -> str:
        """Re-encrypt under the newest key."""
        return self._fernet.rotate(token.encode()).decode()

    def __repr__(self) -> str:
        return "TokenVault(<keys redacted>)"


def has_development_key(data_dir: Path) -> bool:
    return (data_dir / "secret.key").exists()


def development_key(data_dir: Path) -> str:
    """The demo's key, generated into `data_dir/secret.key` (mode 0600) on first run."""
    path = data_dir / "secret.key"
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key().decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key
