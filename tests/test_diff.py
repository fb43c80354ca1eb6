"""`llm-cost diff`: the manifest's estimated cost per prompt at two git refs, in a temporary git repository.

The golden PR comment (tests/golden/diff_comment.md) comes from a repository with a changed, an added, a removed and
an unchanged prompt; its numbers are checked once more from first principles (tiktoken's own counts × list prices).
Regenerate it with LLM_COST_UPDATE_GOLDEN=1 after a deliberate change, and review the diff.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import tiktoken
import tiktoken.load
from tiktoken_ext import openai_public
from typer.testing import CliRunner, Result

from llm_cost.cli import app
from llm_cost.diff import (
    MARKER,
    CostDiff,
    PromptChange,
    PromptCost,
    code_span,
    compare,
    parse_threshold,
    percent_change,
    to_markdown,
)
from llm_cost.errors import ConfigError

GOLDEN = Path(__file__).resolve().parent / "golden" / "diff_comment.md"
UPDATE = os.environ.get("LLM_COST_UPDATE_GOLDEN") == "1"  # read before the autouse fixture clears LLM_COST_*
DATE = "2026-10-05"
# genai-prices' list prices on DATE, USD per million tokens (input / output / cache read).
GPT_4O = {"input": Decimal("2.5"), "output": Decimal("10"), "cache_read": Decimal("1.25")}
SONNET = {"input": Decimal("3"), "output": Decimal("15"), "cache_read": Decimal("0.3")}
MILLION = Decimal(1_000_000)
GIT = [
    "git",
    "-c",
    "user.email=tests@example.com",
    "-c",
    "user.name=llm-cost tests",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "tag.gpgsign=false",
    "-c",
    "init.defaultBranch=main",
]

BASE_MANIFEST = """\
[defaults]
model = "gpt-4o"

[[prompts]]
path = "prompts/triage.txt"
prompt_id = "triage"
calls = 1000
expected_output_tokens = 40

[[prompts]]
path = "prompts/search.md"
prompt_id = "search"
model = "claude-sonnet-4-0"
input_tokens = 1200
expected_output_tokens = 300
calls = 500
cache_hit_ratio = 0.6

[[prompts]]
path = "prompts/summary.txt"
prompt_id = "summary"
calls = 200
expected_output_tokens = 100
"""
HEAD_MANIFEST = """\
[defaults]
model = "gpt-4o"

[[prompts]]
path = "prompts/triage.txt"
prompt_id = "triage"
calls = 1000
expected_output_tokens = 40

[[prompts]]
path = "prompts/search.md"
prompt_id = "search"
model = "claude-sonnet-4-0"
input_tokens = 1200
expected_output_tokens = 300
calls = 500
cache_hit_ratio = 0.6

[[prompts]]
path = "prompts/classify.txt"
model = "claude-sonnet-4-0"
calls = 300
expected_output_tokens = 20
"""
TRIAGE_BASE = "Classify the customer's ticket as billing, outage or how-to.\n"
TRIAGE_HEAD = (
    "Classify the customer's ticket as billing, outage or how-to. Reply in JSON with the fields kind, urgency and "
    "a one-sentence reason; never invent an order number.\n"
)
SUMMARY = "Summarise the conversation in three bullet points for the next agent.\n"
CLASSIFY = "Label the sentiment of this review: positive, neutral or negative.\n"
SEARCH = "# Query rewriter\n\nRewrite the user's query for the documentation index.\n"


# --- a temporary git repository -----------------------------------------------------------------------------------


class Repo:
    """A git repository in a temporary folder, with no global or system git configuration."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q")

    def git(self, *args: str) -> str:
        env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "HOME": str(self.path)}
        proc = subprocess.run([*GIT, *args], cwd=self.path, env=env, capture_output=True, text=True, check=False)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    def write(self, files: dict[str, str | None]) -> None:
        """Write (or, for None, delete) files."""
        for relative, text in files.items():
            target = self.path / relative
            if text is None:
                target.unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text, encoding="utf-8")

    def commit(self, message: str, tag: str | None = None) -> None:
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        if tag:
            self.git("tag", tag)


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    """An empty repository, the working directory."""
    made = Repo(tmp_path / "repo")
    monkeypatch.chdir(made.path)
    return made


@pytest.fixture
def golden_repo(repo: Repo) -> Repo:
    """Tag `base`: triage, search, summary. The working tree: triage's text longer, summary removed, classify added
    (no prompt_id: its ResourceId is a slug of its path), search unchanged."""
    repo.write(
        {
            "llm-cost.toml": BASE_MANIFEST,
            "prompts/triage.txt": TRIAGE_BASE,
            "prompts/search.md": SEARCH,
            "prompts/summary.txt": SUMMARY,
        }
    )
    repo.commit("base", tag="base")
    repo.write(
        {
            "llm-cost.toml": HEAD_MANIFEST,
            "prompts/triage.txt": TRIAGE_HEAD,
            "prompts/summary.txt": None,
            "prompts/classify.txt": CLASSIFY,
        }
    )
    return repo


def invoke(*args: str) -> Result:
    return CliRunner().invoke(app, ["diff", *args])


def diff_json(*args: str) -> dict[str, Any]:
    result = invoke("--date", DATE, "--format", "json", *args)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def by_id(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["resource_id"]: p for p in data["prompts"]}


def assert_one_error_line(result: Result, code: int = 3) -> str:
    """Exactly one line on stderr, `error: ...`, the documented exit code, no traceback, nothing on stdout."""
    assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    return result.stderr


# --- the golden PR comment ----------------------------------------------------------------------------------------


def test_markdown_comment_matches_the_golden(golden_repo: Repo, vocab_dir: Path) -> None:
    result = invoke("--base", "base", "--date", DATE, "--format", "markdown")
    assert result.exit_code == 0, result.stderr
    if UPDATE:
        GOLDEN.write_text(result.stdout, encoding="utf-8")
    assert GOLDEN.is_file(), f"{GOLDEN.name} is missing; run with LLM_COST_UPDATE_GOLDEN=1 to create it"
    assert result.stdout == GOLDEN.read_text(encoding="utf-8"), "the comment differs from tests/golden/diff_comment.md"
    assert result.stderr == ""  # markdown goes to stdout only; nothing to warn about here


def _reference_tokens(text: str, vocab_dir: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """tiktoken's own o200k_base encoding (its constructor and hash check, reading the local vocabulary file as its
    download): the count llm-cost should reach by its own path."""
    real_read = tiktoken.load.read_file
    with monkeypatch.context() as patch:
        patch.setattr(tiktoken.load, "read_file", lambda url: real_read(str(vocab_dir / Path(url).name)))
        patch.setenv("TIKTOKEN_CACHE_DIR", "")
        encoding = tiktoken.Encoding(**openai_public.o200k_base())
    return len(encoding.encode_ordinary(text))


def _table_rows(markdown: str) -> dict[str, list[str]]:
    """The rows of the markdown tables, by their first cell (the ResourceId, without its code span)."""
    found = {}
    for line in markdown.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if line.startswith("| `"):
            found[cells[0].strip("`")] = cells
    return found


def test_golden_numbers_from_first_principles(vocab_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every amount in the golden, recomputed by hand: tokens (tiktoken's o200k_base; Claude falls back to it) ×
    calls × list price per million, with search's 60 % of input at the cache-read price."""

    def tokens(text: str) -> int:
        return _reference_tokens(text, vocab_dir, monkeypatch)

    def cost(prices: dict[str, Decimal], input_tokens: int, output: int, calls: int, cached: int = 0) -> Decimal:
        total_input = input_tokens * calls
        return (
            (total_input - cached) * prices["input"] + cached * prices["cache_read"] + output * calls * prices["output"]
        ) / MILLION

    triage_base = cost(GPT_4O, tokens(TRIAGE_BASE), 40, 1000)
    triage_head = cost(GPT_4O, tokens(TRIAGE_HEAD), 40, 1000)
    summary = cost(GPT_4O, tokens(SUMMARY), 100, 200)
    classify = cost(SONNET, tokens(CLASSIFY), 20, 300)
    search = cost(SONNET, 1200, 300, 500, cached=360_000)  # 0.6 x 600,000 input tokens
    assert search == Decimal("3.078")  # 240,000 x 3 + 360,000 x 0.3 + 150,000 x 15, per million

    golden = GOLDEN.read_text(encoding="utf-8")
    rows = _table_rows(golden)
    # | Prompt | Model | File | Change | Base | Head | delta | delta % |
    expected = {
        "triage": ("changed", triage_base, triage_head),
        "prompts-classify-txt": ("added", None, classify),
        "summary": ("removed", summary, None),
    }
    for rid, (status, base, head) in expected.items():
        cells = rows[rid]
        assert cells[3] == status
        assert (cells[4] == "-") is (base is None) and (cells[5] == "-") is (head is None)
        assert (Decimal(cells[4]) if base is not None else None) == base
        assert (Decimal(cells[5]) if head is not None else None) == head
        delta = (head or 0) - (base or 0)
        assert Decimal(cells[6]) == delta and cells[6].startswith("+" if delta > 0 else "-")
        if base:
            assert cells[7] == f"{(delta * 100 / base).quantize(Decimal('0.01')):+}%"
        else:
            assert cells[7] == "new"
    assert Decimal(rows["search"][3]) == search  # unchanged: | Prompt | Model | File | Cost |

    base_total = triage_base + search + summary
    head_total = triage_head + search + classify
    delta = head_total - base_total
    pct = (delta * 100 / base_total).quantize(Decimal("0.01"))
    totals = re.search(r"\*\*Estimated cost per day: (\S+) → (\S+) USD \((\S+) USD, (\S+)%\)\*\*", golden)
    assert totals, golden
    assert [Decimal(totals[1]), Decimal(totals[2]), Decimal(totals[3]), Decimal(totals[4])] == [
        base_total,
        head_total,
        delta,
        pct,
    ]
    # Sorted by the absolute delta, largest first.
    order = [rid for rid in rows if rid != "search"]
    deltas = {"triage": triage_head - triage_base, "prompts-classify-txt": classify, "summary": -summary}
    assert order == sorted(deltas, key=lambda r: -abs(deltas[r]))


def test_golden_shape(vocab_dir: Path) -> None:
    golden = GOLDEN.read_text(encoding="utf-8")
    lines = golden.splitlines()
    assert lines[0] == MARKER and lines[1] == "### llm-cost diff"
    assert "Prompts: 1 added, 1 removed, 1 changed, 1 unchanged." in golden
    assert "<details>\n<summary>1 unchanged prompt</summary>" in golden and golden.rstrip().endswith("</details>")
    assert golden.count(MARKER) == 1 and golden.endswith("</details>\n")


# --- shapes -------------------------------------------------------------------------------------------------------


def test_json_lists_every_prompt_and_the_totals(golden_repo: Repo) -> None:
    data = diff_json("--base", "base")
    assert set(data) == {"base", "head", "manifest", "date", "currency", "total", "counts", "prompts"}
    assert data["base"] == "base" and data["head"] is None and data["manifest"] == "llm-cost.toml"
    assert data["date"] == DATE and data["currency"] == "USD"
    assert data["counts"] == {"added": 1, "removed": 1, "changed": 1, "unchanged": 1}
    prompts = by_id(data)
    assert {rid: p["status"] for rid, p in prompts.items()} == {
        "triage": "changed",
        "search": "unchanged",
        "summary": "removed",
        "prompts-classify-txt": "added",
    }
    for prompt in prompts.values():
        assert set(prompt) == {"resource_id", "model", "path", "status", "base_cost", "head_cost", "delta", "delta_pct"}
    assert prompts["search"]["base_cost"] == prompts["search"]["head_cost"] == "3.078"
    assert prompts["search"]["delta"] == "0.0" and prompts["search"]["delta_pct"] == "0.00"
    assert prompts["summary"]["head_cost"] is None and prompts["summary"]["delta_pct"] == "-100.00"
    assert prompts["prompts-classify-txt"]["base_cost"] is None and prompts["prompts-classify-txt"]["delta_pct"] is None
    assert prompts["prompts-classify-txt"]["model"] == "claude-sonnet-4-0"
    total = data["total"]
    assert isinstance(total, dict)
    base = sum((Decimal(p["base_cost"]) for p in prompts.values() if p["base_cost"] is not None), Decimal(0))
    head = sum((Decimal(p["head_cost"]) for p in prompts.values() if p["head_cost"] is not None), Decimal(0))
    assert Decimal(total["base_cost"]) == base and Decimal(total["head_cost"]) == head
    assert Decimal(total["delta"]) == head - base
    assert total["delta_pct"] == str(((head - base) * 100 / base).quantize(Decimal("0.01")))


def test_table_goes_to_stderr_and_nothing_to_stdout(golden_repo: Repo) -> None:
    result = invoke("--base", "base", "--date", DATE)
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "Estimated prompt cost per day: base -> the working tree" in result.stderr
    assert "triage" in result.stderr and "removed" in result.stderr and "added" in result.stderr
    assert "Prompts: 1 added, 1 removed, 1 changed, 1 unchanged; prices of 2026-10-05." in result.stderr
    quiet = CliRunner().invoke(app, ["-q", "diff", "--base", "base", "--date", DATE])
    assert quiet.exit_code == 0 and quiet.stdout == quiet.stderr == ""


def test_head_ref_reads_the_commit_not_the_working_tree(golden_repo: Repo) -> None:
    working = diff_json("--base", "base")
    golden_repo.commit("head", tag="head")
    golden_repo.write({"prompts/triage.txt": "changed again, but not committed\n"})  # ignored with --head
    committed = diff_json("--base", "base", "--head", "head")
    assert committed["head"] == "head"
    assert committed["prompts"] == working["prompts"] and committed["total"] == working["total"]
    same = diff_json("--base", "head", "--head", "head")
    assert same["counts"] == {"added": 0, "removed": 0, "changed": 0, "unchanged": 3}


def test_no_change_markdown(repo: Repo) -> None:
    repo.write({"llm-cost.toml": BASE_MANIFEST.split('[[prompts]]\npath = "prompts/summary.txt"')[0]})
    repo.write({"prompts/triage.txt": TRIAGE_BASE, "prompts/search.md": SEARCH})
    repo.commit("base")
    result = invoke("--base", "HEAD", "--date", DATE, "--format", "markdown")
    assert result.exit_code == 0, result.stderr
    assert "No prompt's estimated cost changed." in result.stdout and "| Prompt |" in result.stdout
    assert "<summary>2 unchanged prompts</summary>" in result.stdout
    assert "(+0.0 USD" not in result.stdout and "(0.0 USD, 0.00%)" in result.stdout


def test_manifest_in_a_subfolder_from_the_root_and_from_inside(repo: Repo, monkeypatch: pytest.MonkeyPatch) -> None:
    """Prompt paths are relative to the manifest, at a ref as on disk, wherever the command runs."""
    manifest = '[[prompts]]\npath = "../prompts/a.txt"\nprompt_id = "a"\ncalls = 1000\n'
    repo.write({"ai/llm-cost.toml": manifest, "prompts/a.txt": "short\n"})
    repo.commit("base")
    repo.write({"prompts/a.txt": "a much longer prompt than before, with more words in it\n"})
    from_root = diff_json("--base", "HEAD", "--manifest", "ai/llm-cost.toml")
    assert from_root["manifest"] == "ai/llm-cost.toml"
    assert by_id(from_root)["a"]["status"] == "changed"
    monkeypatch.chdir(repo.path / "ai")
    from_inside = diff_json("--base", "HEAD")  # ./llm-cost.toml
    assert from_inside == from_root


def test_config_settings_choose_the_manifest(repo: Repo) -> None:
    """`--config` and its [settings] manifest work as for export."""
    repo.write(
        {
            "ci/llm-cost.toml": '[settings]\nmanifest = "../prompts.toml"\n',
            "prompts.toml": '[[prompts]]\npath = "p.txt"\ninput_tokens = 400000\n',
            "p.txt": "x\n",
        }
    )
    repo.commit("base")
    repo.write({"prompts.toml": '[[prompts]]\npath = "p.txt"\ninput_tokens = 800000\n'})
    data = diff_json("--base", "HEAD", "--config", "ci/llm-cost.toml")
    assert data["manifest"] == "prompts.toml"
    assert data["total"] == {"base_cost": "1.0", "head_cost": "2.0", "delta": "1.0", "delta_pct": "100.00"}


def test_identity_is_resource_id_and_model(repo: Repo) -> None:
    """A new model is one prompt removed and one added; a moved file with the same prompt_id is the same prompt;
    a pricing override changed at the head changes the cost."""
    base = (
        '[[prompts]]\npath = "a.txt"\nprompt_id = "a"\ninput_tokens = 1000\n'
        '[[prompts]]\npath = "b.txt"\nprompt_id = "b"\ninput_tokens = 1000\n'
        '[[prompts]]\npath = "c.txt"\nprompt_id = "c"\nmodel = "house-model"\ninput_tokens = 1000000\n'
        '[pricing."house-model"]\ninput_mtok = 1.0\noutput_mtok = 2.0\n'
    )
    repo.write({"llm-cost.toml": base})
    repo.commit("base")
    head = (
        base.replace('path = "a.txt"\nprompt_id = "a"', 'path = "a.txt"\nprompt_id = "a"\nmodel = "gpt-4o-mini"')
        .replace('path = "b.txt"', 'path = "moved/b.txt"')
        .replace("input_mtok = 1.0", "input_mtok = 1.5")
    )
    repo.write({"llm-cost.toml": head})
    data = diff_json("--base", "HEAD")
    found = {(p["resource_id"], p["model"]): (p["status"], p["path"]) for p in data["prompts"]}
    assert found == {
        ("a", "gpt-4o"): ("removed", "a.txt"),
        ("a", "gpt-4o-mini"): ("added", "a.txt"),
        ("b", "gpt-4o"): ("unchanged", "moved/b.txt"),
        ("c", "house-model"): ("changed", "c.txt"),
    }
    assert by_id(data)["c"]["delta"] == "0.5"


def test_prompts_sharing_an_id_and_model_are_summed(repo: Repo) -> None:
    manifest = (
        '[[prompts]]\npath = "a.txt"\nprompt_id = "x"\ninput_tokens = 400000\n'
        '[[prompts]]\npath = "b.txt"\nprompt_id = "x"\ninput_tokens = 400000\n'
    )
    repo.write({"llm-cost.toml": manifest})
    repo.commit("base")
    result = invoke("--base", "HEAD", "--date", DATE, "--format", "json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert [(p["resource_id"], p["base_cost"]) for p in data["prompts"]] == [("x", "2.0")]
    # The manifest source's own warning, once for each ref.
    assert result.stderr.count("share ResourceId 'x'") == 2
    assert "warning: base HEAD: prompts a.txt and b.txt share" in result.stderr
    assert "warning: head (the working tree): prompts a.txt and b.txt share" in result.stderr


def test_manifest_added_on_head_makes_every_prompt_added(repo: Repo) -> None:
    repo.write({"README.md": "no manifest yet\n"})
    repo.commit("before llm-cost")
    repo.write({"llm-cost.toml": '[[prompts]]\npath = "p.txt"\ninput_tokens = 400000\n', "p.txt": "x\n"})
    result = invoke("--base", "HEAD", "--date", DATE, "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert (
        result.stderr == "warning: base HEAD has no manifest llm-cost.toml: every prompt of the head counts as added\n"
    )
    data = json.loads(result.stdout)
    assert data["counts"] == {"added": 1, "removed": 0, "changed": 0, "unchanged": 0}
    assert data["total"] == {"base_cost": "0.0", "head_cost": "1.0", "delta": "1.0", "delta_pct": None}


# --- --fail-on-increase ---------------------------------------------------------------------------------------------


@pytest.fixture
def ten_percent(repo: Repo) -> Repo:
    """The total goes from 1.0 to 1.1 USD a day: exactly +10 %."""
    repo.write({"llm-cost.toml": '[[prompts]]\npath = "p.txt"\ninput_tokens = 400000\n', "p.txt": "x\n"})
    repo.commit("base")
    repo.write({"llm-cost.toml": '[[prompts]]\npath = "p.txt"\ninput_tokens = 440000\n'})
    return repo


@pytest.mark.parametrize(("threshold", "code"), [("10", 0), ("10%", 0), ("10.000", 0), ("9.99", 10), ("0", 10)])
def test_fail_on_increase_at_and_above_the_threshold(ten_percent: Repo, threshold: str, code: int) -> None:
    result = invoke("--base", "HEAD", "--date", DATE, "--format", "markdown", "--fail-on-increase", threshold)
    assert result.exit_code == code, result.stderr
    assert result.stdout.startswith(MARKER)  # the comment is written either way
    assert "**Estimated cost per day: 1.0 → 1.1 USD (+0.1 USD, +10.00%)**" in result.stdout
    if code:
        assert result.stderr == (
            "error: estimated cost per day rose 10.00% (1.0 -> 1.1 USD), more than --fail-on-increase "
            f"{Decimal(threshold.rstrip('%'))}%\n"
        )
    else:
        assert result.stderr == ""


def test_a_decrease_never_fails(ten_percent: Repo) -> None:
    ten_percent.commit("head", tag="head")
    result = invoke("--base", "head", "--head", "HEAD~1", "--date", DATE, "--format", "json", "--fail-on-increase", "0")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["total"]["delta_pct"] == "-9.09"


def test_any_increase_from_zero_fails(repo: Repo) -> None:
    """From a zero base an increase is infinite: it exceeds any threshold. Zero to zero is no increase."""
    repo.write({"llm-cost.toml": "[defaults]\nmodel = 'gpt-4o'\n"})
    repo.commit("empty")
    result = invoke("--base", "HEAD", "--date", DATE, "--format", "json", "--fail-on-increase", "1000000")
    assert result.exit_code == 0, result.stderr
    repo.write({"llm-cost.toml": '[[prompts]]\npath = "p.txt"\ninput_tokens = 1\n', "p.txt": "x\n"})
    result = invoke("--base", "HEAD", "--date", DATE, "--format", "json", "--fail-on-increase", "1000000")
    assert result.exit_code == 10
    assert json.loads(result.stdout)["total"]["delta_pct"] is None
    assert result.stderr.startswith("error: estimated cost per day rose from zero (0.0 -> 0.0000025 USD)")


@pytest.mark.parametrize("value", ["ten", "-1", "nan", "inf", "", "1,5"])
def test_bad_threshold_is_a_config_error(ten_percent: Repo, value: str) -> None:
    message = assert_one_error_line(invoke("--base", "HEAD", "--fail-on-increase", value))
    assert "--fail-on-increase" in message and "is not a percentage" in message


# --- fail loudly --------------------------------------------------------------------------------------------------


def test_not_a_git_repository(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "plain"
    folder.mkdir()
    (folder / "llm-cost.toml").write_text('[[prompts]]\npath = "p.txt"\n', encoding="utf-8")
    monkeypatch.chdir(folder)
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))  # never find a repository above tmp_path
    message = assert_one_error_line(invoke("--base", "main"))
    assert message.startswith("error: not a git repository: ") and "diff compares git refs" in message


def test_git_not_installed(golden_repo: Repo, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    message = assert_one_error_line(invoke("--base", "base"))
    assert "git is not installed or not on PATH" in message


REF_ERRORS: list[tuple[list[str], str]] = [
    (["--base", "no-such-branch"], "error: base: unknown git ref 'no-such-branch': no such branch, tag or commit"),
    (["--base", "base", "--head", "nope"], "error: head: unknown git ref 'nope'"),
    (["--base=-h"], "error: base: invalid git ref '-h'"),
    (["--base=--output=/tmp/x"], "error: base: invalid git ref '--output=/tmp/x'"),
    (["--base", "base", "--head=-p"], "error: head: invalid git ref '-p'"),
    (["--base", " "], "error: base: invalid git ref ' '"),
    (["--base", "base:llm-cost.toml"], "error: base: unknown git ref 'base:llm-cost.toml'"),
    (["--base", "base", "--head", "HEAD~5"], "error: head: unknown git ref 'HEAD~5'"),
]


@pytest.mark.parametrize(("args", "start"), REF_ERRORS, ids=[" ".join(a) for a, _ in REF_ERRORS])
def test_bad_refs(golden_repo: Repo, args: list[str], start: str) -> None:
    assert assert_one_error_line(invoke(*args)).startswith(start)


def test_unknown_ref_hints_at_shallow_clones(golden_repo: Repo) -> None:
    assert "fetch-depth: 0" in assert_one_error_line(invoke("--base", "origin/main"))


def test_manifest_missing_in_the_working_tree(golden_repo: Repo) -> None:
    (golden_repo.path / "llm-cost.toml").unlink()
    message = assert_one_error_line(invoke("--base", "base"))
    assert message.startswith("error: head (the working tree): manifest not found: llm-cost.toml")


def test_manifest_missing_at_the_head_ref(golden_repo: Repo) -> None:
    golden_repo.commit("head")
    golden_repo.git("rm", "-q", "llm-cost.toml")
    golden_repo.commit("drop the manifest", tag="dropped")
    golden_repo.write({"llm-cost.toml": HEAD_MANIFEST})  # on disk, but not at the ref
    message = assert_one_error_line(invoke("--base", "base", "--head", "dropped"))
    assert message == "error: head dropped: manifest not found: dropped:llm-cost.toml (check --manifest or --config)\n"


def test_manifest_missing_at_both(golden_repo: Repo) -> None:
    message = assert_one_error_line(invoke("--base", "base", "--manifest", "other.toml"))
    assert message.startswith("error: head (the working tree): manifest not found: other.toml")


def test_prompt_file_missing_at_the_base(repo: Repo) -> None:
    repo.write({"llm-cost.toml": '[[prompts]]\npath = "prompts/p.txt"\n'})
    repo.commit("a manifest whose prompt was never committed")
    repo.write({"prompts/p.txt": "now it exists\n"})
    message = assert_one_error_line(invoke("--base", "HEAD"))
    assert message == (
        "error: base HEAD: prompt file not found: prompts/p.txt (looked for HEAD:prompts/p.txt; paths are relative "
        "to the manifest)\n"
    )


def test_prompt_file_missing_at_the_head(golden_repo: Repo) -> None:
    (golden_repo.path / "prompts" / "classify.txt").unlink()
    message = assert_one_error_line(invoke("--base", "base"))
    assert message.startswith("error: head (the working tree): prompt file not found: prompts/classify.txt")


def test_prompt_file_missing_at_the_head_ref(golden_repo: Repo) -> None:
    golden_repo.commit("head", tag="head")
    golden_repo.git("rm", "-q", "prompts/classify.txt")
    golden_repo.commit("lose a prompt", tag="broken")
    message = assert_one_error_line(invoke("--base", "base", "--head", "broken"))
    assert message.startswith("error: head broken: prompt file not found: prompts/classify.txt (looked for broken:")


@pytest.mark.parametrize(
    ("manifest", "expected"),
    [
        ("[[prompts]\n", "error: base HEAD: malformed TOML in HEAD:llm-cost.toml: "),
        ("[[prompts]]\nmodel = 'gpt-4o'\n", "error: base HEAD: invalid manifest HEAD:llm-cost.toml: [[prompts]] #1"),
        (
            "[[prompts]]\npath = 'p.txt'\nmodel = 'no-such-model-x'\n",
            "error: base HEAD: unknown model 'no-such-model-x'",
        ),
        ("[[prompts]]\npath = '../outside.txt'\n", "error: base HEAD: prompt file ../outside.txt is outside the git"),
    ],
    ids=["malformed", "invalid", "unknown-model", "outside"],
)
def test_bad_manifest_at_the_base(repo: Repo, manifest: str, expected: str) -> None:
    repo.write({"llm-cost.toml": manifest, "p.txt": "x\n"})
    repo.commit("bad base")
    repo.write({"llm-cost.toml": '[[prompts]]\npath = "p.txt"\n'})
    assert assert_one_error_line(invoke("--base", "HEAD")).startswith(expected)


def test_prompt_that_is_not_utf8_at_the_base(repo: Repo) -> None:
    repo.write({"llm-cost.toml": '[[prompts]]\npath = "p.txt"\n'})
    (repo.path / "p.txt").write_bytes(b"\xff\xfe not text")
    repo.commit("binary")
    message = assert_one_error_line(invoke("--base", "HEAD"))
    assert message == "error: base HEAD: prompt file p.txt is not UTF-8 text\n"


def test_manifest_that_is_not_utf8_at_the_base(repo: Repo) -> None:
    (repo.path / "llm-cost.toml").write_bytes(b"[defaults]\nmodel = '\xff'\n")
    repo.commit("binary manifest")
    repo.write({"llm-cost.toml": "[defaults]\n"})
    message = assert_one_error_line(invoke("--base", "HEAD"))
    assert message == "error: base HEAD: cannot read manifest HEAD:llm-cost.toml: not UTF-8 text\n"


def test_manifest_outside_the_repository(golden_repo: Repo, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.toml"
    outside.write_text("[defaults]\n", encoding="utf-8")
    message = assert_one_error_line(invoke("--base", "base", "--manifest", str(outside)))
    assert "is outside the git repository" in message or "not a git repository" in message


def test_bad_format_is_a_usage_error(golden_repo: Repo) -> None:
    result = invoke("--base", "base", "--format", "csv")
    assert result.exit_code == 2 and "Traceback" not in result.stderr


def test_base_is_required(golden_repo: Repo) -> None:
    result = invoke()
    assert result.exit_code == 2 and "--base" in result.stderr


def test_debug_shows_the_traceback(golden_repo: Repo) -> None:
    result = CliRunner().invoke(app, ["--debug", "diff", "--base", "nope"])
    assert result.exit_code == 3 and "Traceback" in result.stderr


# --- inside GitHub Actions ------------------------------------------------------------------------------------------


def test_outputs_and_step_summary_in_actions(
    ten_percent: Repo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output, summary = tmp_path / "out", tmp_path / "summary"
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    monkeypatch.setenv("GITHUB_OUTPUT", str(output))
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    result = invoke("--base", "HEAD", "--date", DATE, "--format", "markdown", "--fail-on-increase", "5")
    assert result.exit_code == 10
    assert result.stderr.startswith("::error::estimated cost per day rose 10.00%")
    text = output.read_text(encoding="utf-8")
    for name, value in {"base-cost": "1.0", "head-cost": "1.1", "cost-delta": "0.1", "cost-delta-pct": "10.00"}.items():
        assert re.search(rf"^{name}<<(\S+)\n{re.escape(value)}\n\1$", text, re.M), (name, text)
    assert summary.read_text(encoding="utf-8").startswith(MARKER)


# --- the pure comparison ------------------------------------------------------------------------------------------


def _costs(**items: str) -> dict[tuple[str, str], PromptCost]:
    return {(rid, "m"): PromptCost(rid, "m", f"{rid}.txt", Decimal(cost)) for rid, cost in items.items()}


def _diff(base: dict[str, str], head: dict[str, str]) -> CostDiff:
    return compare(_costs(**base), _costs(**head), base_ref="b", head_ref="h", manifest="m.toml", day=date(2026, 1, 1))


def test_compare_statuses_order_and_totals() -> None:
    result = _diff({"a": "1", "b": "2", "c": "0.5"}, {"a": "1", "b": "2.25", "d": "0.75"})
    assert [(c.resource_id, c.status) for c in result.prompts] == [
        ("d", "added"),
        ("c", "removed"),
        ("b", "changed"),
        ("a", "unchanged"),
    ]
    assert result.base_total == Decimal("3.5") and result.head_total == Decimal("4.0")
    assert result.delta_pct == Decimal("0.5") * 100 / Decimal("3.5")
    tie = _diff({"y": "1", "x": "1"}, {})  # equal |delta|: by ResourceId
    assert [c.resource_id for c in tie.prompts] == ["x", "y"]


@pytest.mark.parametrize(
    ("base", "head", "threshold", "exceeds"),
    [
        ("1", "1.1", "10", False),
        ("1", "1.1000000001", "10", True),
        ("3", "4", "33.3333333333", True),
        ("3", "4", "33.3333333334", False),
        ("1", "0.5", "0", False),
        ("1", "1", "0", False),
        ("0", "0", "0", False),
        ("0", "0.0000001", "1000000000", True),
    ],
)
def test_exceeds_is_exact(base: str, head: str, threshold: str, exceeds: bool) -> None:
    assert _diff({"a": base}, {"a": head}).exceeds(Decimal(threshold)) is exceeds


def test_percent_change_and_thresholds() -> None:
    assert percent_change(Decimal(0), Decimal(0)) == 0 and percent_change(Decimal(0), Decimal(1)) is None
    assert percent_change(Decimal(4), Decimal(3)) == Decimal(-25)
    assert parse_threshold(" 12.5 % ") == Decimal("12.5")
    with pytest.raises(ConfigError):
        parse_threshold("-0.1")


def test_names_cannot_break_the_comment() -> None:
    """A ResourceId with a pipe, backticks, HTML, a mention or the marker stays inside its cell as code."""
    hostile = "a|b `x` <img src=x> @team <!-- llm-cost-diff -->\nsecond"
    costs = {(hostile, "m"): PromptCost(hostile, "m", "p.txt", Decimal(1))}
    text = to_markdown(compare({}, costs, base_ref="b`x", head_ref=None, manifest="m", day=date(2026, 1, 1)))
    assert text.count(MARKER) == 2 and text.startswith(MARKER + "\n")  # the real one, and one inside a code span
    row = next(line for line in text.splitlines() if line.startswith("| ``"))
    assert row.startswith("| ``a\\|b `x` <img src=x> @team <!-- llm-cost-diff --> second`` | `m` |")
    assert "Base ``b`x``" in text
    assert code_span("`edge`") == "`` `edge` ``" and code_span("a``b") == "```a``b```"


def test_a_full_commit_id_is_left_for_github_to_link() -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    text = to_markdown(compare({}, {}, base_ref=sha, head_ref="feature/x", manifest="m", day=date(2026, 1, 1)))
    assert f"Base {sha}, head `feature/x`;" in text


def test_prompt_change_properties() -> None:
    added = PromptChange("a", "m", "a.txt", "added", None, Decimal("0.5"))
    assert added.delta == Decimal("0.5") and added.delta_pct is None
    removed = PromptChange("r", "m", "r.txt", "removed", Decimal("2"), None)
    assert removed.delta == Decimal(-2) and removed.delta_pct == Decimal(-100)
