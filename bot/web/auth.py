"""Staff authentication: argon2 password hashes, signed session cookies, CSRF tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
COOKIE = "faqbot_staff"
SESSION_SECONDS = 8 * 3600


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    if not stored_hash:
        # Spend the same time as a real check so usernames cannot be probed.
        _HASHER.hash(password)
        return False
    try:
        return _HASHER.verify(stored_hash, password)
    except (VerificationError, InvalidHashError):
        return False


class Signer:
    """Signs `username|expiry` with a server secret; the cookie holds no password."""

    def __init__(self, secret: bytes | None = None) -> None:
        self.secret = secret or secrets.token_bytes(32)

    def _mac(self, payload: str) -> str:
        return hmac.new(self.secret, payload.encode(), hashlib.sha256).hexdigest()

    def issue(self, username: str, now: float | None = None) -> str:
        expiry = int((now or time.time()) + SESSION_SECONDS)
        payload = f"{username}|{expiry}"
        return f"{payload}|{self._mac(payload)}"

    def verify(self, token: str | None, now: float | None = None) -> str | None:
        if not token or token.count("|") != 2:
            return None
        username, expiry, mac = token.split("|")
        if not hmac.compare_digest(mac, self._mac(f"{username}|{expiry}")):
            return None
        if not expiry.isdigit() or int(expiry) < (now or time.time()):
            return None
        return username

    def csrf_token(self, session_token: str) -> str:
        return self._mac("csrf|" + session_token)

    def check_csrf(self, session_token: str, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(self.csrf_token(session_token), token or "")
