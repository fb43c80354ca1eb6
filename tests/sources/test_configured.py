"""The `[[sources]]` tables of llm-cost.toml: parse_sources() and SourceEntry (labels, modes, the keys each mode
takes, keys never written in the file, relative paths, per-source overrides), each refusal a one-line exit 3."""

from __future__ import annotations

import re
import tomllib
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from llm_cost.errors import ConfigError
from llm_cost.sources.configured import (
    LITELLM_ONLY,
    MANIFEST_ONLY,
    SECRET_KEYS,
    SourceEntry,
    parse_sources,
)

CONFIG = Path("/srv/costs/llm-cost.toml")
SECRET = "sk-live-abc-123-do-not-echo"
VALID_LABEL = re.compile(r"[a-z0-9-]+")
DATE_LIKE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def proxy(label: str = "prod", mode: str = "spend-logs", **extra: Any) -> dict[str, Any]:
    """A LiteLLM entry with the keys its mode needs, plus `extra`."""
    return {
        "label": label,
        "mode": mode,
        "litellm_url": "https://proxy.example",
        "litellm_key_env": "PROD_KEY",
        **extra,
    }


def plan(label: str = "plan", **extra: Any) -> dict[str, Any]:
    """A manifest entry, plus `extra`."""
    return {"label": label, "mode": "manifest", **extra}


def refused(table: object, config: Path = CONFIG) -> str:
    """The message of the ConfigError parse_sources raises: exit 3, one line, naming the config file."""
    with pytest.raises(ConfigError) as info:
        parse_sources(table, config)
    message = str(info.value)
    assert info.value.exit_code == 3
    assert "\n" not in message and message.strip() == message
    assert message.startswith(f"{config}: ")
    return message


# --- what parses ------------------------------------------------------------------------------------------------


def test_no_sources_key_means_no_entries() -> None:
    """A config file without [[sources]] has no labelled sources (None is the absent key)."""
    assert parse_sources(None, CONFIG) == ()


def test_entries_keep_the_file_order_and_their_values() -> None:
    """Each table becomes one SourceEntry, in the file's order, typed."""
    entries = parse_sources(
        [
            proxy("prod", granularity="hour", tag_keys=["team", "project"], include_health_checks=True),
            proxy("staging", "daily-activity", litellm_key_env="STAGING_KEY"),
            plan("plan", cache_hit_ratio=0.25),
        ],
        CONFIG,
    )
    assert [entry.label for entry in entries] == ["prod", "staging", "plan"]
    prod, staging, estimates = entries
    assert (prod.mode, prod.litellm_url, prod.litellm_key_env) == ("spend-logs", "https://proxy.example", "PROD_KEY")
    assert (prod.granularity, prod.tag_keys, prod.include_health_checks) == ("hour", ("team", "project"), True)
    assert (staging.mode, staging.litellm_key_env) == ("daily-activity", "STAGING_KEY")
    assert estimates.mode == "manifest" and estimates.cache_hit_ratio == Decimal("0.25")
    assert [entry.is_litellm for entry in entries] == [True, True, False]


def test_entries_parse_from_real_toml() -> None:
    """The shapes tomllib gives for [[sources]] are the ones parse_sources takes."""
    document = tomllib.loads(
        '[[sources]]\nlabel = "prod"\nmode = "spend-logs"\nlitellm_url = "https://p.example"\n'
        'litellm_key_env = "LITELLM_PROD_KEY"\ntag_keys = ["team"]\n\n'
        '[[sources]]\nlabel = "plan"\nmode = "manifest"\ncache_hit_ratio = 0.1\n'
    )
    prod, estimates = parse_sources(document["sources"], CONFIG)
    assert prod.tag_keys == ("team",)
    assert estimates.cache_hit_ratio == Decimal("0.1")  # exact, not the float's 0.1000000000000000055...


@pytest.mark.parametrize(
    "label", ["prod", "eu-west-1", "a", "0", "2025-06", "20250601", "2025-06-01-eu", "x2025-06-01"]
)
def test_labels_of_lower_case_letters_digits_and_dashes_are_taken(label: str) -> None:
    """Any `[a-z0-9-]+` label is taken, unless it is shaped exactly like a date (a month or a longer name is fine)."""
    assert parse_sources([plan(label)], CONFIG)[0].label == label


def test_source_entry_is_frozen_and_forbids_extra_fields() -> None:
    """An entry cannot change once parsed, nor be built with a field it does not know."""
    entry = parse_sources([plan()], CONFIG)[0]
    with pytest.raises(ValidationError):
        entry.label = "other"
    with pytest.raises(ValidationError):
        SourceEntry(label="x", mode="manifest", colour="blue")  # type: ignore[call-arg]


# --- the array of tables ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "table",
    [
        {"label": "prod", "mode": "manifest"},  # [sources]: one table, not an array of them
        "prod",
        ["prod", "staging"],
        [plan(), "staging"],
        [[plan()]],
    ],
)
def test_sources_must_be_an_array_of_tables(table: object) -> None:
    assert "sources must be an array of tables ([[sources]])" in refused(table)


def test_an_empty_sources_array_is_refused() -> None:
    assert "sources is empty; add [[sources]] tables or remove the key" in refused([])


# --- labels -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "label",
    [
        None,  # missing
        "",
        "Prod",
        "prod_eu",
        "prod eu",
        "prod.eu",
        "prød",
        "prod\n",
        " prod",
        "٣",  # a non-ASCII digit
        5,
        ["prod"],
        "2025-06-01",
        "1999-12-31",
        "9999-99-99",  # shaped like a date, even if no such day
    ],
)
def test_a_bad_or_date_shaped_label_is_refused(label: object) -> None:
    """A label goes into Vantage file names beside the period's dates, so it must be plain and never a date."""
    entry = plan()
    if label is None:
        del entry["label"]
    else:
        entry["label"] = label
    message = refused([entry])
    assert "[[sources]] #1: label must be lower-case letters, digits and '-' (e.g. prod), not a date" in message
    assert f"got {label!r}" in message


def test_a_label_used_twice_is_refused_even_across_modes() -> None:
    message = refused([proxy("prod"), plan("other"), plan("prod")])
    assert "[[sources]] label 'prod' is used twice; labels must be unique" in message


def test_errors_name_the_entry_by_number_and_label() -> None:
    """Past the label check, a message says which entry: its number in the file and its label."""
    message = refused([plan("plan"), proxy("staging", mode="csv")])
    assert message.startswith(f"{CONFIG}: [[sources]] #2 (staging): ")


# --- modes and the keys each takes ------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", [None, "csv", "Manifest", "spend_logs", "daily", ["manifest"], 1])
def test_mode_must_be_a_known_mode(mode: object) -> None:
    entry = plan()
    if mode is None:
        del entry["mode"]
    else:
        entry["mode"] = mode
    message = refused([entry])
    assert f"mode must be one of manifest, spend-logs, daily-activity; got {mode!r}" in message


@pytest.mark.parametrize("mode", ["spend-logs", "daily-activity"])
@pytest.mark.parametrize(
    ("drop", "empty", "expected"),
    [
        (("litellm_url",), (), "needs litellm_url"),
        (("litellm_key_env",), (), "needs litellm_key_env"),
        (("litellm_url", "litellm_key_env"), (), "needs litellm_url and litellm_key_env"),
        ((), ("litellm_url",), "needs litellm_url"),
    ],
)
def test_a_litellm_entry_needs_a_url_and_a_key_variable(
    mode: str, drop: tuple[str, ...], empty: tuple[str, ...], expected: str
) -> None:
    """Without the proxy's address or the variable that holds its key, a LiteLLM entry is refused."""
    entry = proxy(mode=mode)
    for key in drop:
        del entry[key]
    for key in empty:
        entry[key] = ""
    assert f"(prod): mode {mode} {expected}" in refused([entry])


@pytest.mark.parametrize("mode", ["spend-logs", "daily-activity"])
@pytest.mark.parametrize(("key", "value"), [("manifest", "plan.toml"), ("cache_hit_ratio", 0.5)])
def test_manifest_keys_are_refused_for_a_litellm_entry(mode: str, key: str, value: Any) -> None:
    assert key in MANIFEST_ONLY
    assert f"(prod): {key} does not apply to mode {mode}" in refused([proxy(mode=mode, **{key: value})])


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("litellm_url", "https://proxy.example"),
        ("litellm_key_env", "PROD_KEY"),
        ("ca_bundle", "ca.pem"),
        ("granularity", "hour"),
        ("tag_keys", ["team"]),
        ("include_health_checks", True),
    ],
)
def test_litellm_keys_are_refused_for_a_manifest_entry(key: str, value: Any) -> None:
    assert key in LITELLM_ONLY
    assert f"(plan): {key} does not apply to mode manifest" in refused([plan(**{key: value})])


def test_every_misplaced_key_is_named() -> None:
    message = refused([plan(litellm_url="https://proxy.example", granularity="day")])
    assert "(plan): litellm_url, granularity does not apply to mode manifest" in message


def test_unknown_keys_are_refused_by_name() -> None:
    message = refused([proxy(colour="blue", url="https://elsewhere.example")])
    assert "[[sources]] #1 (prod): unknown key(s) colour, url" in message


# --- keys are never written in the file -------------------------------------------------------------------------


@pytest.mark.parametrize("key", sorted(SECRET_KEYS))
@pytest.mark.parametrize("entry", [proxy, plan], ids=["litellm", "manifest"])
def test_a_key_written_in_the_file_is_refused_without_echoing_it(
    key: str, entry: Callable[..., dict[str, Any]]
) -> None:
    message = refused([entry(**{key: SECRET})])
    assert f"{key} holds a key, which the config file must not" in message
    assert "name it with litellm_key_env" in message
    assert SECRET not in message


def test_a_written_key_is_refused_before_anything_else_is_checked() -> None:
    """Even in an entry with other faults (a bad label, an unknown key) the key is what is refused, never shown."""
    message = refused([{"label": "Bad Label", "mode": "csv", "colour": "x", "master_key": SECRET, "api_key": SECRET}])
    assert "[[sources]] #1: api_key holds a key" in message
    assert SECRET not in message


@pytest.mark.parametrize(
    "value",
    [SECRET, "sk_live-abc", "1PROD_KEY", "PROD KEY", "PROD-KEY", "", "$PROD_KEY", "PROD_KEY\n", 12345, ["PROD_KEY"]],
)
def test_litellm_key_env_must_be_a_variable_name_and_is_never_echoed(value: object) -> None:
    """A value that cannot be an environment-variable name may be the key itself: refused, and not shown."""
    message = refused([proxy(litellm_key_env=value)])
    assert "(prod): litellm_key_env must name an environment variable (letters, digits and _), not hold the key" in (
        message
    )
    if isinstance(value, str) and value.strip():
        assert value.strip() not in message


def test_a_key_in_litellm_key_env_of_a_manifest_entry_is_not_echoed_either() -> None:
    """The variable-name check comes before the mode's keys are checked, so a manifest entry never echoes it."""
    message = refused([plan(litellm_key_env=SECRET)])
    assert "litellm_key_env must name an environment variable" in message
    assert SECRET not in message


@pytest.mark.parametrize("name", ["PROD_KEY", "_KEY", "litellm_prod_key", "K1"])
def test_litellm_key_env_takes_variable_names(name: str) -> None:
    assert parse_sources([proxy(litellm_key_env=name)], CONFIG)[0].litellm_key_env == name


# --- values -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "fragment"),
    [
        (proxy(granularity="week"), "(prod): granularity: Input should be 'day', 'hour' or 'request'"),
        (proxy(tag_keys="team"), "(prod): tag_keys: Input should be a valid tuple"),
        (proxy(tag_keys=[1]), "(prod): tag_keys.0: Input should be a valid string"),
        (proxy(include_health_checks=[True]), "(prod): include_health_checks: Input should be a valid boolean"),
        (proxy(litellm_url=5), "(prod): litellm_url: Input should be a valid string"),
        (plan(cache_hit_ratio=1.5), "(plan): cache_hit_ratio must be between 0 and 1, got 1.5"),
        (plan(cache_hit_ratio=-0.1), "(plan): cache_hit_ratio must be between 0 and 1, got -0.1"),
        (plan(cache_hit_ratio=float("nan")), "(plan): cache_hit_ratio: Input should be a finite number"),
        (plan(cache_hit_ratio=float("inf")), "(plan): cache_hit_ratio: Input should be a finite number"),
        (plan(cache_hit_ratio="lots"), "(plan): cache_hit_ratio: Input should be a valid decimal"),
    ],
)
def test_a_bad_value_is_a_one_line_error_naming_the_key(entry: dict[str, Any], fragment: str) -> None:
    assert fragment in refused([entry])


# --- relative paths ---------------------------------------------------------------------------------------------


def test_relative_paths_resolve_against_the_config_files_folder(tmp_path: Path) -> None:
    config = tmp_path / "conf" / "llm-cost.toml"
    prod, estimates = parse_sources([proxy(ca_bundle="certs/ca.pem"), plan(manifest="plans/prompts.toml")], config)
    assert prod.ca_bundle == str(tmp_path / "conf" / "certs" / "ca.pem")
    assert estimates.manifest == str(tmp_path / "conf" / "plans" / "prompts.toml")


def test_absolute_paths_stay_and_a_bare_config_name_keeps_paths_relative(tmp_path: Path) -> None:
    """An absolute path is kept; beside ./llm-cost.toml a relative path stays relative (to the same folder)."""
    absolute = tmp_path / "abs" / "ca.pem"
    prod = parse_sources([proxy(ca_bundle=str(absolute))], tmp_path / "conf" / "llm-cost.toml")[0]
    assert prod.ca_bundle == str(absolute)
    estimates = parse_sources([plan(manifest="plans/prompts.toml")], Path("llm-cost.toml"))[0]
    assert estimates.manifest == str(Path("plans") / "prompts.toml")


def test_a_manifest_entry_without_a_manifest_leaves_it_unset() -> None:
    """Unset means the config file itself (settings fills it in), so the entry holds None."""
    assert parse_sources([plan()], CONFIG)[0].manifest is None


# --- overrides --------------------------------------------------------------------------------------------------


def test_overrides_of_a_litellm_entry_are_its_set_values_without_label_or_key_variable(tmp_path: Path) -> None:
    config = tmp_path / "llm-cost.toml"
    entry = parse_sources(
        [
            proxy(
                mode="daily-activity",
                ca_bundle="ca.pem",
                granularity="hour",
                tag_keys=["team", "project"],
                include_health_checks=False,
            )
        ],
        config,
    )[0]
    assert entry.overrides() == {
        "mode": "daily-activity",
        "litellm_url": "https://proxy.example",
        "ca_bundle": str(tmp_path / "ca.pem"),
        "granularity": "hour",
        "tag_keys": ("team", "project"),
        "include_health_checks": False,  # False is a value, not "unset"
    }


def test_overrides_of_a_manifest_entry(tmp_path: Path) -> None:
    config = tmp_path / "llm-cost.toml"
    entry = parse_sources([plan(manifest="m.toml", cache_hit_ratio=0.6)], config)[0]
    assert entry.overrides() == {
        "mode": "manifest",
        "manifest": str(tmp_path / "m.toml"),
        "cache_hit_ratio": Decimal("0.6"),
    }
    assert parse_sources([plan()], config)[0].overrides() == {"mode": "manifest"}


def test_an_empty_tag_keys_list_overrides_with_none() -> None:
    """`tag_keys = []` is the same as the flag given empty: None (the source's default), as the run's is."""
    entry = parse_sources([proxy(tag_keys=[])], CONFIG)[0]
    assert entry.tag_keys == ()
    assert entry.overrides()["tag_keys"] is None


# --- property: labels -------------------------------------------------------------------------------------------

_GOOD_TEXT = st.text(alphabet="abz019-", min_size=1, max_size=10)  # good characters; repeats make a list bad
_ANY_TEXT = st.text(alphabet="az09-_A .é\n٣", max_size=12)  # valid and invalid characters
_DATE_SHAPED = st.one_of(
    st.dates(min_value=date(1000, 1, 1)).map(date.isoformat),
    st.tuples(
        st.text("0123456789", min_size=4, max_size=4),
        st.text("0123456789", min_size=2, max_size=2),
        st.text("0123456789", min_size=2, max_size=2),
    ).map("-".join),
)
_LABELS = st.one_of(
    _GOOD_TEXT,
    _GOOD_TEXT,
    _GOOD_TEXT,
    _ANY_TEXT,
    _DATE_SHAPED,
    st.sampled_from(["prod", "staging", "eu-1", "2025-06", "2025-06-01"]),
    st.none(),  # no label key at all
    st.integers(),
)


def _is_good_label(label: object) -> bool:
    return isinstance(label, str) and bool(VALID_LABEL.fullmatch(label)) and not DATE_LIKE.fullmatch(label)


@given(labels=st.one_of(st.lists(_GOOD_TEXT, min_size=1, max_size=4), st.lists(_LABELS, min_size=1, max_size=4)))
def test_parsed_labels_are_always_plain_unique_and_never_dates(labels: list[object]) -> None:
    """Whatever the labels, parse_sources returns entries whose labels are `[a-z0-9-]+`, unique and not shaped
    like a date, or refuses with a one-line ConfigError; it takes exactly the lists where every label is good."""
    table: list[dict[str, object]] = [
        {"mode": "manifest"} if label is None else {"label": label, "mode": "manifest"} for label in labels
    ]
    acceptable = all(_is_good_label(label) for label in labels) and len(set(map(str, labels))) == len(labels)
    try:
        entries = parse_sources(table, CONFIG)
    except ConfigError as exc:
        assert exc.exit_code == 3 and "\n" not in str(exc)
        assert not acceptable, f"good labels refused: {exc}"
        return
    found = [entry.label for entry in entries]
    assert found == labels
    assert all(VALID_LABEL.fullmatch(label) and not DATE_LIKE.fullmatch(label) for label in found)
    assert len(set(found)) == len(found)
    assert acceptable
