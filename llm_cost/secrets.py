"""Keeping secrets out of every message: API keys and tokens are masked wherever text leaves the process."""

from __future__ import annotations

from collections.abc import Iterable

MASK = "****"
MIN_SECRET_LENGTH = 4


class Masker:
    """Replaces every registered secret in a text with a mask. Short values are not treated as secrets, since
    masking them would garble ordinary words."""

    def __init__(self, secrets: Iterable[str | None] = ()) -> None:
        self._secrets: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str | None) -> None:
        """Register one more secret (None and short values are ignored)."""
        if secret and len(secret) >= MIN_SECRET_LENGTH and secret not in self._secrets:
            self._secrets.append(secret)
            self._secrets.sort(key=len, reverse=True)  # mask the longest first, so no fragment survives

    def __call__(self, text: object) -> str:
        masked = str(text)
        for secret in self._secrets:
            masked = masked.replace(secret, MASK)
        return masked
