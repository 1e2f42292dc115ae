"""Passwords and tokens: argon2id hashes for passwords, SHA-256 digests for random tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from functools import cached_property

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError


def new_token() -> str:
    """A random, URL-safe token of 256 bits."""
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """What the database keeps of a token: its SHA-256, hex (tokens are random: no salt needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


@dataclass
class Passwords:
    """argon2id through argon2-cffi; the parameters are the hasher's (its defaults unless given)."""

    hasher: PasswordHasher = field(default_factory=PasswordHasher)

    def hash(self, password: str) -> str:
        return self.hasher.hash(password)

    def verify(self, stored: str | None, password: str) -> bool:
        """Whether `password` matches; with nothing stored, spend the same time and say no."""
        try:
            return self.hasher.verify(stored if stored is not None else self._decoy, password) and (
                stored is not None
            )
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored: str) -> bool:
        """True when `stored` was made with other parameters than the hasher's."""
        try:
            return self.hasher.check_needs_rehash(stored)
        except InvalidHashError:
            return True

    @cached_property
    def _decoy(self) -> str:
        # Verifying against it takes as long as against a real hash: unknown emails are not
        # told apart from wrong passwords by the time the answer takes.
        return self.hasher.hash(secrets.token_urlsafe(16))
