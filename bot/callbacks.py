"""Call-back requests: a patient asks a nurse to call them back.

Name, phone number and best time are identifiers, so they never join the chat
text: they are checked here, sealed with Fernet (AES-128-CBC with an
HMAC-SHA256, from the maintained `cryptography` library) under the
`callback_key` setting, stored apart in the `callbacks` table, and opened
only for a signed-in staff member on the ticket page. A `MultiFernet` takes
several keys (comma-separated): the first seals, all open, so a key can be
rotated. Nothing here logs a value.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

MAX_NAME = 100
MAX_BEST_TIME = 100
_PHONE = re.compile(r"\+?[0-9][0-9 ().\-]{5,28}[0-9]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class CallbackRequest:
    name: str
    phone: str
    best_time: str

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> CallbackRequest:
        """A request from the widget's JSON; `ValueError` names the field (never its value)."""
        if data.get("consent") is not True:
            raise ValueError("'consent' must be true: the patient agrees to be called")

        def text(name: str, limit: int, required: bool = True) -> str:
            value = data.get(name, "")
            if not isinstance(value, str):
                raise ValueError(f"'{name}' must be a string")
            value = " ".join(_CONTROL.sub(" ", value).split())
            if required and not value:
                raise ValueError(f"'{name}' is required")
            if len(value) > limit:
                raise ValueError(f"'{name}' is longer than {limit} characters")
            return value

        phone = text("phone", 30)
        digits = sum(ch.isdigit() for ch in phone)
        if not _PHONE.fullmatch(phone) or not 7 <= digits <= 15:
            raise ValueError("'phone' must be a phone number (7 to 15 digits)")
        return cls(name=text("name", MAX_NAME), phone=phone,
                   best_time=text("best_time", MAX_BEST_TIME, required=False))


def parse_keys(value: str) -> str:
    """The `callback_key` setting: empty, or comma-separated Fernet keys."""
    value = str(value).strip()
    if value:
        try:
            for key in value.split(","):
                Fernet(key.strip().encode())
        except (ValueError, TypeError):
            raise ValueError("expected Fernet keys (32 url-safe base64 bytes each; make one "
                             "with: python -c 'from cryptography.fernet import Fernet; "
                             "print(Fernet.generate_key().decode())')") from None
    return value


class Sealer:
    """Seals and opens call-back requests with the `callback_key` setting."""

    def __init__(self, keys: str) -> None:
        parsed = [k.strip() for k in parse_keys(keys).split(",") if k.strip()]
        self._fernet = MultiFernet([Fernet(k.encode()) for k in parsed]) if parsed else None

    @property
    def ready(self) -> bool:
        return self._fernet is not None

    def seal(self, request: CallbackRequest) -> str:
        if self._fernet is None:
            raise ValueError("no callback_key is set")
        return self._fernet.encrypt(json.dumps(asdict(request)).encode()).decode()

    def open(self, sealed: str) -> CallbackRequest | None:
        """The request, or None when no key here opens it (a key was removed)."""
        if self._fernet is None:
            return None
        try:
            data = json.loads(self._fernet.decrypt(sealed.encode()))
        except (InvalidToken, ValueError):
            return None
        return CallbackRequest(str(data["name"]), str(data["phone"]), str(data["best_time"]))


__all__ = ["CallbackRequest", "Sealer", "parse_keys"]
