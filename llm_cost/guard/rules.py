"""The rules `check` judges by: `[budget]` (with its `[[budget.limits]]`) and `[policy]` of llm-cost.toml, read
strictly. Every mistake is one ConfigError (exit 3) that names the file, the table and the key.

Backward compatible with the original llm-cost: `[budget] max_cost_usd` (a daily ceiling on the estimated total),
`warn_threshold` (its warn share, 0-1) and `[policy] allowed_models`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator, model_validator

from llm_cost.config import read_toml
from llm_cost.errors import ConfigError

ACTUAL, ESTIMATE = "actual", "estimate"
COST_KINDS = (ACTUAL, ESTIMATE)
SCOPES = ("total", "team", "key", "user", "model", "provider")
SCOPE_HELP = "total, team, key, user, model, provider or tag:KEY"
DEFAULT_WARN_PCT = Decimal(80)
HUNDRED = Decimal(100)

Period = Literal["day", "week", "month"]
AppliesTo = Literal["actual", "estimate", "both"]
UnknownModels = Literal["allow", "warn", "fail"]


def _number(value: object) -> Decimal:
    """A TOML number (an integer, or a float read as an exact Decimal), never a string, a bool or a binary float."""
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ValueError(f"must be a number, not {value!r}")
    number = Decimal(value)
    if not number.is_finite():
        raise ValueError(f"must be a finite number, not {value!r}")
    return number


def _money(value: object) -> Decimal:
    number = _number(value)
    if number < 0:
        raise ValueError(f"must be zero or more US dollars, not {value!r}")
    return number


def _percent(value: object) -> Decimal:
    number = _number(value)
    if not Decimal(0) < number <= HUNDRED:
        raise ValueError(f"must be a percentage above 0 and at most 100, not {value!r}")
    return number


def _share(value: object) -> Decimal:
    number = _number(value)
    if not Decimal(0) < number <= Decimal(1):
        raise ValueError(f"must be a share above 0 and at most 1 (0.8 = 80 %), not {value!r}")
    return number


Money = Annotated[Decimal, BeforeValidator(_money)]
Percent = Annotated[Decimal, BeforeValidator(_percent)]
Share = Annotated[Decimal, BeforeValidator(_share)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def tag_key(scope: str) -> str | None:
    """The tag key of a `tag:KEY` scope, else None."""
    return scope[4:] if scope.startswith("tag:") else None


class LimitTable(_Strict):
    """One `[[budget.limits]]` table."""

    scope: str
    match: str | None = None
    period: Period = "day"
    max_usd: Money
    warn_pct: Percent | None = None
    applies_to: AppliesTo = "both"

    @field_validator("scope")
    @classmethod
    def _scope(cls, value: str) -> str:
        key = tag_key(value)
        if value in SCOPES or (key and key.strip() == key):
            return value
        raise ValueError(f"must be {SCOPE_HELP}, not {value!r}")

    @field_validator("match")
    @classmethod
    def _match(cls, value: str | None) -> str | None:
        if value is not None and not value:
            raise ValueError("must be a glob such as 'prod-*' (leave it out to check every value)")
        return value

    @model_validator(mode="after")
    def _total_has_one_value(self) -> LimitTable:
        if self.scope == "total" and self.match is not None:
            raise ValueError("match has no meaning for scope total (it has one value); remove it")
        return self


class BudgetTable(_Strict):
    """`[budget]`: the original daily ceiling of estimates, and the limits."""

    max_cost_usd: Money | None = None
    warn_threshold: Share | None = None
    limits: list[LimitTable] = Field(default_factory=list)

    @model_validator(mode="after")
    def _threshold_needs_ceiling(self) -> BudgetTable:
        if self.warn_threshold is not None and self.max_cost_usd is None:
            raise ValueError("warn_threshold is the warn share of max_cost_usd; set max_cost_usd too")
        return self


def _glob(value: object) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"every entry must be a model name or glob such as 'gpt-4o*', not {value!r}")
    return value


class PolicyTable(_Strict):
    """`[policy]`: which models may be used."""

    allowed_models: list[Annotated[str, BeforeValidator(_glob)]] | None = None
    blocked_models: list[Annotated[str, BeforeValidator(_glob)]] = Field(default_factory=list)
    unknown_models: UnknownModels = "allow"

    @field_validator("allowed_models")
    @classmethod
    def _not_empty(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("lists no model, which would forbid every model; remove it to allow every model")
        return value


@dataclass(frozen=True, slots=True)
class Limit:
    """A budget limit, as the judge uses it: no more than `max_usd` per `period` for each value of `scope` that
    `match` selects (every value when None), on the cost kinds of `applies_to`. `rule` names it for people."""

    rule: str
    scope: str
    max_usd: Decimal
    period: Period = "day"
    match: str | None = None
    warn_pct: Decimal | None = None
    applies_to: AppliesTo = "both"

    @property
    def costs(self) -> tuple[str, ...]:
        """The cost kinds (actual, estimate) this limit judges, each on its own."""
        return COST_KINDS if self.applies_to == "both" else (self.applies_to,)

    def matches(self, value_id: str, name: str) -> bool:
        """Whether the limit covers a value: its glob matches the value's id or its name (case-sensitive)."""
        return self.match is None or fnmatchcase(value_id, self.match) or fnmatchcase(name, self.match)


@dataclass(frozen=True, slots=True)
class Policy:
    """`[policy]` as the judge uses it. Globs are fnmatch patterns, case-sensitive."""

    allowed_models: tuple[str, ...] | None = None
    blocked_models: tuple[str, ...] = ()
    unknown_models: UnknownModels = "allow"

    @property
    def active(self) -> bool:
        return self.allowed_models is not None or bool(self.blocked_models) or self.unknown_models != "allow"


@dataclass(frozen=True, slots=True)
class Rules:
    """Everything `check` judges by, and the files it came from."""

    limits: tuple[Limit, ...] = ()
    policy: Policy = Policy()
    files: tuple[Path, ...] = ()

    @property
    def tag_keys(self) -> frozenset[str]:
        """The tag keys that `tag:KEY` limits read."""
        return frozenset(key for limit in self.limits if (key := tag_key(limit.scope)))

    @property
    def empty(self) -> bool:
        return not self.limits and not self.policy.active


def _describe(error: ValidationError, table: str) -> str:
    """One line for the first validation error, naming the table and key as a TOML user writes them."""
    first = error.errors()[0]
    loc: list[Any] = list(first["loc"])
    where = f"[{table}]"
    if table == "budget" and loc[:1] == ["limits"] and len(loc) >= 2 and isinstance(loc[1], int):
        where, loc = f"[[budget.limits]] #{loc[1] + 1}", loc[2:]
    key = " ".join(f"#{part + 1}" if isinstance(part, int) else str(part) for part in loc)
    if first["type"] == "extra_forbidden":
        return f"{where}: unknown key {key!r} (check the spelling; see the README's check section)"
    if first["type"] == "missing":
        return f"{where}: {key!r} is missing"
    message = first["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
    if first["type"] == "literal_error":
        message = f"{message}, not {first['input']!r}"
    return f"{where} {key}: {message}" if key else f"{where}: {message}"


def parse_rules(budget: object, policy: object, where: str) -> Rules:
    """The rules of a `[budget]` and a `[policy]` table (None: absent); `where` names their file in errors."""
    limits: list[Limit] = []
    if budget is not None:
        if not isinstance(budget, dict):
            raise ConfigError(f"{where}: budget must be a table ([budget])")
        if isinstance(budget.get("limits"), dict):
            raise ConfigError(f"{where}: [budget.limits] must be an array of tables; write [[budget.limits]]")
        try:
            table = BudgetTable.model_validate(budget)
        except ValidationError as exc:
            raise ConfigError(f"{where}: {_describe(exc, 'budget')}") from None
        if table.max_cost_usd is not None:
            warn = table.warn_threshold * HUNDRED if table.warn_threshold is not None else None
            limits.append(Limit("[budget] max_cost_usd", "total", table.max_cost_usd, "day", None, warn, "estimate"))
        for number, item in enumerate(table.limits, start=1):
            limits.append(
                Limit(
                    f"[[budget.limits]] #{number}",
                    item.scope,
                    item.max_usd,
                    item.period,
                    item.match,
                    item.warn_pct,
                    item.applies_to,
                )
            )
    rules = Policy()
    if policy is not None:
        if not isinstance(policy, dict):
            raise ConfigError(f"{where}: policy must be a table ([policy])")
        try:
            parsed = PolicyTable.model_validate(policy)
        except ValidationError as exc:
            raise ConfigError(f"{where}: {_describe(exc, 'policy')}") from None
        allowed = tuple(parsed.allowed_models) if parsed.allowed_models is not None else None
        rules = Policy(allowed, tuple(parsed.blocked_models), parsed.unknown_models)
    return Rules(tuple(limits), rules)


def load_rules(files: Sequence[Path]) -> Rules:
    """The rules of the given files (the config file, and a manifest that is another file). `[budget]` and
    `[policy]` may each come from one file only: two of them would leave which one counts to a guess."""
    found: dict[str, tuple[Path, object]] = {}
    read: list[Path] = []
    for path in dict.fromkeys(files):
        if any(path.resolve() == seen.resolve() for seen in read):
            continue
        read.append(path)
        document = read_toml(path)
        for table in ("budget", "policy"):
            if table not in document:
                continue
            if table in found:
                raise ConfigError(f"both {found[table][0]} and {path} have a [{table}] table; keep it in one of them")
            found[table] = (path, document[table])
    budget_file, budget = found.get("budget", (None, None))
    policy_file, policy = found.get("policy", (None, None))
    if budget_file is not None and policy_file is not None and budget_file != policy_file:
        parsed = parse_rules(budget, None, str(budget_file))
        rules = Rules(parsed.limits, parse_rules(None, policy, str(policy_file)).policy)
    else:
        rules = parse_rules(budget, policy, str(budget_file or policy_file or ""))
    return Rules(rules.limits, rules.policy, tuple(read))
