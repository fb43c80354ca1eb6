"""PURE: the FOCUS rows of one group, as what they share and what each row has of its own.

A group's rows share nearly every column: the period, the provider, the account, the model, and per token type the
SKU and its unit prices. Those columns make a `RowShape`, which the mapping builds once and hands out again for
every row of the same shape (across groups too), so the checks and the sinks work on a shape once and keep what
they derived from it in `RowShape.derived`. Per row only the `VARYING` columns are new: the costs, the quantities,
Tags and the charge period.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field

import msgspec

FocusRow = dict[str, str | None]

# The columns whose values are new on nearly every row or group, in the order of `RowSet.values`; every other column
# is in the row's shape.
VARYING: tuple[str, ...] = (
    "BilledCost",
    "ConsumedQuantity",
    "ContractedCost",
    "EffectiveCost",
    "ListCost",
    "PricingCurrencyEffectiveCost",
    "PricingQuantity",
    "Tags",
    # A group's own period: in the values, so that groups of other periods (every request, at request grain) share
    # the shapes.
    "ChargePeriodStart",
    "ChargePeriodEnd",
)
VARYING_SET = frozenset(VARYING)


@dataclass(slots=True, eq=False)
class RowShape:
    """Every column of a row but the VARYING ones (a null is None). Treated as immutable; consumers cache what they
    derive from it in `derived`, under a key of their own (their header, say)."""

    values: Mapping[str, str | None]
    derived: dict[object, object] = field(default_factory=dict)


_DERIVED_KEYS: dict[tuple[object, ...], object] = {}


def derived_key(*parts: object) -> object:
    """The key under which a consumer keeps what it derives from shapes (`RowShape.derived`): one small object per
    distinct `parts` (a purpose and a header, say), so consumers with the same header share it and a lookup does not
    hash the whole header."""
    return _DERIVED_KEYS.setdefault(parts, object())


@dataclass(slots=True)
class RowSet:
    """The FOCUS rows of one group: per row its shape and its VARYING values (in VARYING order)."""

    shapes: list[RowShape]
    values: list[tuple[str | None, ...]]

    def __len__(self) -> int:
        return len(self.values)

    def rows(self) -> Iterator[FocusRow]:
        """Each row as a whole dict (what a per-row sink takes)."""
        for shape, values in zip(self.shapes, self.values, strict=True):
            row = dict(shape.values)
            row.update(zip(VARYING, values, strict=True))
            yield row


_encode_sorted = msgspec.json.Encoder(order="sorted").encode


def tags_json(tags: Mapping[str, object]) -> str:
    """A flat JSON object with sorted keys and no whitespace (RFC 8785 key order for our ASCII keys); the same
    text as `json.dumps(tags, sort_keys=True, separators=(",", ":"), ensure_ascii=False)`, five times faster."""
    return _encode_sorted(tags).decode()


@dataclass(slots=True, frozen=True)
class TagsTemplate:
    """A group's Tags with a few keys whose values change from row to row (`row_keys`, such as the token type).
    `render(values)` gives exactly `tags_json({**shared, **dict(zip(row_keys, values))})`, with the shared pairs
    encoded once: the object is encoded with null under the row keys and cut there (a `"key":` can only be a key in
    the text, since quotes inside strings are escaped), so a row costs a few concatenations."""

    row_keys: tuple[str, ...]
    _pieces: tuple[str, ...]  # the texts around the row pairs: len(row_keys) + 1 of them

    @classmethod
    def build(cls, shared: Mapping[str, object], row_keys: Sequence[str] = ()) -> TagsTemplate:
        keys = tuple(sorted(row_keys))
        if not keys:
            return cls(keys, (tags_json(shared),))
        rest = tags_json({**shared, **dict.fromkeys(keys)})
        pieces = []
        for key in keys:
            before, _, rest = rest.partition(_pair(key, None))
            pieces.append(before)
        pieces.append(rest)
        return cls(keys, tuple(pieces))

    def render(self, values: Sequence[object] = ()) -> str:
        """The Tags text of a row whose row keys hold `values` (in `row_keys` order, which is sorted)."""
        pieces = self._pieces
        if len(pieces) == 2:
            return pieces[0] + _pair(self.row_keys[0], values[0]) + pieces[1]
        out = [pieces[0]]
        for key, value, piece in zip(self.row_keys, values, pieces[1:], strict=True):
            out.append(_pair(key, value))
            out.append(piece)
        return "".join(out)


_PAIRS: dict[tuple[str, object], str] = {}
PAIR_MEMO = 4096


def _pair(key: str, value: object) -> str:
    """One `"key":value` pair as the sorted-keys encoder writes it inside an object (remembered: the row keys' values,
    such as token types, repeat)."""
    if value.__class__ is not str:
        return tags_json({key: value})[1:-1]
    memo = (key, value)
    text = _PAIRS.get(memo)
    if text is None:
        if len(_PAIRS) >= PAIR_MEMO:
            _PAIRS.clear()
        text = _PAIRS[memo] = tags_json({key: value})[1:-1]
    return text
