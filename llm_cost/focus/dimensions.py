"""PURE: what fills the dimensions an analyst groups by: the chargeback key (`--sub-account`) and the billing
account's name. No I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass

SUB_ACCOUNT_BASES = ("team", "user", "org")
_TAG_CHOICE = re.compile(r"^tag:(?P<key>.+)$")


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


@dataclass(slots=True, frozen=True)
class SubAccount:
    """What fills SubAccountId, SubAccountName and SubAccountType (all None when the row lacks the chosen key)."""

    id: str | None
    name: str | None
    type: str | None


NO_SUB_ACCOUNT = SubAccount(None, None, None)


_SUB_ACCOUNT_TYPES = {"team": "Team", "user": "User", "org": "Organization"}


def sub_account_of(
    choice: str,
    *,
    team: tuple[str | None, str | None],
    user: tuple[str | None, str | None],
    org: tuple[str | None, str | None],
    tags: dict[str, str],
) -> SubAccount:
    """The chargeback key of a row: the (id, name) of its team, user or organization, or the value of a request tag.
    A row without the chosen key gets no sub-account, never another key's."""
    if (key := sub_account_tag(choice)) is not None:
        value = tags.get(key)
        return SubAccount(value, value, f"Tag {key}") if value else NO_SUB_ACCOUNT
    found_id, name = team if choice == "team" else user if choice == "user" else org
    if not found_id:
        return NO_SUB_ACCOUNT
    return SubAccount(found_id, name or found_id, _SUB_ACCOUNT_TYPES[choice])


def billing_account_name(key_hash: str, alias: str | None, key_name: str | None) -> str:
    """A key's name for BillingAccountName, never blank: its alias, else LiteLLM's key name (`sk-...a1b2`), else a
    short form of its hash."""
    return alias or key_name or f"key {key_hash[:12]}"
