"""RS256 access tokens that a mock signs and verifies itself (JWTs carrying `sub` and `exp`)."""

from __future__ import annotations

import secrets
import time
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey


class TokenRejected(Exception):
    """The token is missing, malformed, badly signed or expired."""


def new_signing_key() -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": secrets.token_hex(8), "alg": "RS256"})


class TokenIssuer:
    """Signs and verifies a mock provider's JWTs with its own RSA keys.

    Keys rotate like a real provider's: `rotate()` signs with a new key from then on while the
    old public key stays published (tokens it signed still verify) until `retire_old_keys()`.
    A revoked token (by `jti`) no longer verifies.
    """

    def __init__(self, issuer: str, *, audience: str = "api", default_ttl_s: int = 3600) -> None:
        self.issuer = issuer
        self.default_ttl_s = default_ttl_s
        self.audience = audience
        self._key = new_signing_key()
        self._keys = KeySet([self._key])
        self._revoked: set[str] = set()

    @property
    def kid(self) -> str:
        return str(self._key.kid)

    def rotate(self) -> str:
        """Sign with a fresh key from now on; the previous keys stay published. The new kid."""
        key = new_signing_key()
        # Publish before signing with it: a token signed meanwhile always finds its key.
        self._keys = KeySet([key, *self._keys.keys])
        self._key = key
        return self.kid

    def retire_old_keys(self) -> None:
        """Publish (and accept) only the current key: older tokens stop verifying."""
        self._keys = KeySet([self._key])

    def revoke(self, jti: str) -> None:
        self._revoked.add(jti)

    def sign(self, claims: dict[str, Any], *, typ: str = "JWT") -> str:
        """Any claims, signed with the current key (ID tokens use this)."""
        header = {"alg": "RS256", "kid": self._key.kid, "typ": typ}
        return jwt.encode(header, claims, self._keys)

    def issue(self, sub: str, *, ttl_s: int | None = None, scope: str = "", **claims: Any) -> str:
        """A signed access token for `sub`, valid for `ttl_s` seconds (default `default_ttl_s`)."""
        now = int(time.time())
        ttl_s = self.default_ttl_s if ttl_s is None else ttl_s
        payload = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": sub,
            "iat": now,
            "exp": now + ttl_s,
            "jti": secrets.token_hex(8),
            "scope": scope,
            **claims,
        }
        header = {"alg": "RS256", "kid": self._key.kid, "typ": "JWT"}
        return jwt.encode(header, payload, self._keys)

    def verify(self, token: str) -> dict[str, Any]:
        """The claims of a valid token; TokenRejected otherwise."""
        try:
            decoded = jwt.decode(token, self._keys, algorithms=["RS256"])
        except (JoseError, ValueError, TypeError) as exc:
            raise TokenRejected(f"invalid token: {type(exc).__name__}") from None
        claims = dict(decoded.claims)
        if claims.get("jti") in self._revoked:
            raise TokenRejected("token revoked")
        exp = claims.get("exp")
        if not isinstance(exp, int) or exp < time.time():
            raise TokenRejected("token expired")
        if not isinstance(claims.get("sub"), str):
            raise TokenRejected("token has no subject")
        return claims

    def verify_authorization(self, header: str | None) -> dict[str, Any]:
        """Claims from an `Authorization: Bearer <jwt>` header value."""
        if not header:
            raise TokenRejected("missing bearer token")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise TokenRejected("missing bearer token")
        return self.verify(token.strip())

    def jwks(self) -> dict[str, Any]:
        """The published public keys, as a JWK set."""
        return {"keys": [key.as_dict(private=False) for key in self._keys.keys]}
