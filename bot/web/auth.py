"""Staff authentication: password rules, argon2 hashes, sign-in throttling,
CSRF tokens. Sessions themselves live in the store, so they can be ended."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections import OrderedDict, deque

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_HASHER = PasswordHasher()
COOKIE = "faqbot_staff"
SESSION_SECONDS = 8 * 3600  # absolute: a session ends 8 hours after sign-in
IDLE_SECONDS = 30 * 60  # and after 30 minutes without a request
USERNAME = re.compile(r"[a-z0-9._-]{1,64}")
MIN_PASSWORD = 12


def password_problem(username: str, password: str) -> str | None:
    """Why a staff password is refused, or None when it is acceptable."""
    if not USERNAME.fullmatch(username):
        return "usernames use 1 to 64 of a-z, 0-9, dot, underscore and hyphen"
    if len(password) < MIN_PASSWORD:
        return f"use a password of at least {MIN_PASSWORD} characters"
    if password.strip() != password or not password.strip():
        return "a password may not start or end with spaces"
    if username in password.lower():
        return "the password may not contain the username"
    from zxcvbn import zxcvbn

    if zxcvbn(password[:100], user_inputs=[username, "faqbot", "hospital"])["score"] < 3:
        return "that password is too easy to guess (common words, repeats or patterns)"
    return None


class LoginThrottle:
    """Failed sign-ins per (username, client) and per client, in a sliding window.

    Checked before the password hash is computed, so a flood of guesses costs
    neither time nor Argon2's memory; the right password is refused too while
    blocked. Memory is bounded: the oldest keys are forgotten first.
    """

    def __init__(self, per_user: int = 10, per_client: int = 50, window: float = 15 * 60,
                 max_keys: int = 10_000) -> None:
        self.per_user, self.per_client, self.window = per_user, per_client, window
        self.max_keys = max_keys
        self._failures: OrderedDict[tuple[str, str], deque[float]] = OrderedDict()

    def _recent(self, key: tuple[str, str], now: float) -> deque[float]:
        times = self._failures.get(key)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def retry_after(self, username: str, client: str, now: float | None = None) -> int:
        """Seconds until this sign-in may be tried, 0 when it may be tried now."""
        now = now or time.time()
        waits = []
        for key, limit in (((username, client), self.per_user), (("", client), self.per_client)):
            times = self._recent(key, now)
            if len(times) >= limit:
                waits.append(int(times[len(times) - limit] + self.window - now) + 1)
        return max(waits, default=0)

    def failed(self, username: str, client: str, now: float | None = None) -> None:
        now = now or time.time()
        for key in ((username, client), ("", client)):
            times = self._recent(key, now)
            times.append(now)
            self._failures[key] = times
            self._failures.move_to_end(key)
        while len(self._failures) > self.max_keys:
            self._failures.popitem(last=False)


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
        # Bytes: compare_digest refuses str with non-ASCII characters (a 500).
        given = (token or "").encode("utf-8", "surrogatepass")
        return bool(token) and hmac.compare_digest(self.csrf_token(session_token).encode(), given)
