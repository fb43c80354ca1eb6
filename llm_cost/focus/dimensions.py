"""PURE: what fills the dimensions an analyst groups by: the chargeback key (`--sub-account`), the provider's
FOCUS names and service offering, and the model's identity. No I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

ServiceNaming = Literal["offering", "model-group"]  # --service-name
SUB_ACCOUNT_BASES = ("team", "user", "org")
_TAG_CHOICE = re.compile(r"^tag:(?P<key>\S.*)$")


def parse_sub_account(value: str) -> str:
    """A `--sub-account` value, normalised: `team`, `user`, `org` or `tag:KEY`; ValueError names the choices."""
    text = value.strip()
    if text.lower() in SUB_ACCOUNT_BASES:
        return text.lower()
    match = _TAG_CHOICE.match(text)
    if match and match["key"].strip():
        return f"tag:{match['key'].strip()}"
    raise ValueError(f"{value!r} is not a sub-account choice; use team, user, org or tag:KEY (e.g. tag:cost-center)")


def sub_account_tag(choice: str) -> str | None:
    """The request tag key a `tag:KEY` choice reads, else None."""
    return choice[4:] if choice.startswith("tag:") else None
