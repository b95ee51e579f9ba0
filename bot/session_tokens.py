"""Session tokens: the secret that lets a patient, and only that patient,
read the care team's replies to their session.

A token is an HMAC of the session id under a server secret, so every replica
with the same secret can check it without shared state, and it outlives the
conversation memory (a nurse may reply a day later). The secret comes from
the `session_secret` setting or, when that is empty, a random one created
once under the data directory.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path

# Session ids the public API may not choose: the channels own them.
RESERVED_PREFIXES = ("chatwoot-", "dialogflow-", "rasa-")


class SessionTokens:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the session secret must be at least 16 bytes")
        self._secret = secret

    @classmethod
    def from_settings(cls, session_secret: str, data_dir: str | Path) -> SessionTokens:
        if session_secret:
            return cls(session_secret.encode())
        path = Path(data_dir) / "session_secret"
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # Created readable by this user only, before the secret is written;
            # O_EXCL: of replicas starting together, one writes, the rest read.
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(secrets.token_hex(32))
        for _ in range(100):
            secret = path.read_text(encoding="utf-8").strip()
            if secret:
                return cls(secret.encode())
            time.sleep(0.02)  # another process is writing it
        raise ValueError(f"{path} is empty; delete it or set session_secret")

    def issue(self, session_id: str) -> str:
        digest = hmac.new(self._secret, session_id.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def verify(self, session_id: str, token: str | None) -> bool:
        if not token:
            return False
        # A JSON string may hold a lone surrogate, which .encode() refuses.
        given = token.encode("utf-8", "surrogatepass")
        return hmac.compare_digest(self.issue(session_id).encode(), given)


def new_session_id() -> str:
    """An id nobody can guess (128 bits)."""
    return secrets.token_urlsafe(16)
