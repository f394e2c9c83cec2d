"""Personal access tokens: 256 random bits shown once, stored only as a SHA-256 hash.

A token is `byok_pat_` followed by 43 URL-safe base64 characters, so secret
scanners and people can tell what it is. Because it is uniformly random, a
plain SHA-256 is a safe way to store it (there is nothing to brute-force from
a dictionary) and lets the vault find the user by an indexed equality lookup.
"""

from __future__ import annotations

import hashlib
import secrets

__all__ = ["TOKEN_PREFIX", "new_token", "token_hash"]

TOKEN_PREFIX = "byok_pat_"  # noqa: S105 - a label, not a secret


def new_token() -> str:
    """A fresh personal access token."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the vault stores and looks up: the token's SHA-256, in hex."""
    return hashlib.sha256(token.strip().encode()).hexdigest()
