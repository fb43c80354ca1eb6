"""The tiktoken vocabularies shipped with llm-cost: exact counts offline, their published hashes, the loading order
(LLM_COST_VOCAB_DIR, the shipped files, tiktoken's download, the approximation) and damaged files."""

from __future__ import annotations

import hashlib
import shutil
import tomllib
from pathlib import Path

import pytest
import tiktoken
import tiktoken.load
import tiktoken.registry
from tiktoken_ext import openai_public
from typer.testing import CliRunner

from llm_cost import tokens
from llm_cost.cli import app
from llm_cost.errors import ConfigError
from llm_cost.tokens import APPROXIMATION, PUBLISHED_SHA256, SHIPPED_VOCAB_DIR, TokenCounter

ROOT = Path(__file__).resolve().parent.parent
_REAL_READ_FILE = tiktoken.load.read_file
SHIPPED = ("o200k_base", "cl100k_base")
# Token ids of OpenAI's encodings, as tiktoken documents them: only the real vocabularies give these.
KNOWN_IDS = {
    ("gpt-4o", "Hello, world!"): [13225, 11, 2375, 0],
    ("gpt-4o", "hello world"): [24912, 2375],
    ("gpt-4", "Hello, world!"): [9906, 11, 1917, 0],
    ("gpt-4", "hello world"): [15339, 1917],
}
TEXT = 'Classify the customer\'s ticket as billing, outage or how-to. Reply in JSON: {"kind": ...}\n'


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """No encoding cached in this process, no LLM_COST_VOCAB_DIR, and tiktoken's download refused (and recorded)."""
    attempts: list[str] = []

    def refuse(blobpath: str) -> bytes:
        attempts.append(blobpath)
        raise ConnectionError(f"offline test: refusing to fetch {blobpath}")

    monkeypatch.delenv("LLM_COST_VOCAB_DIR", raising=False)
    monkeypatch.setattr(tiktoken.registry, "ENCODINGS", {})
    monkeypatch.setattr(tiktoken.load, "read_file", refuse)
    return attempts


def reference(name: str, monkeypatch: pytest.MonkeyPatch) -> tiktoken.Encoding:
    """tiktoken's own encoding, from its own constructor and hash check, reading the shipped file as its download."""
    with monkeypatch.context() as patch:
        patch.setattr(tiktoken.load, "read_file", lambda url: _REAL_READ_FILE(str(SHIPPED_VOCAB_DIR / Path(url).name)))
        patch.setenv("TIKTOKEN_CACHE_DIR", "")  # no cache: read_file is called
        return tiktoken.Encoding(**getattr(openai_public, name)())


def tampered(folder: Path, name: str = "o200k_base") -> Path:
    """A copy of a shipped vocabulary with one rank changed: valid format, wrong hash."""
    folder.mkdir(parents=True, exist_ok=True)
    data = (SHIPPED_VOCAB_DIR / f"{name}.tiktoken").read_bytes()
    first, rest = data.split(b"\n", 1)
    token, _ = first.split()
    path = folder / f"{name}.tiktoken"
    path.write_bytes(token + b" 1\n" + rest)
    return path


# --- the shipped files and their published hashes ----------------------------------------------------------------


def test_published_hashes_are_tiktokens_own(monkeypatch: pytest.MonkeyPatch) -> None:
    """The hard-coded hashes are the `expected_hash` tiktoken's registry passes for each encoding."""
    seen: dict[str, str | None] = {}

    def record(url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        seen[url.rsplit("/", 1)[-1].removesuffix(".tiktoken")] = expected_hash
        return {}

    monkeypatch.setattr(openai_public, "load_tiktoken_bpe", record)
    for name in SHIPPED:
        getattr(openai_public, name)()
    assert seen == PUBLISHED_SHA256
    assert set(PUBLISHED_SHA256) == set(SHIPPED)


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_files_are_the_published_ones(name: str) -> None:
    path = SHIPPED_VOCAB_DIR / f"{name}.tiktoken"
    assert path.is_file(), f"{path} is missing: is it package data in pyproject.toml?"
    assert hashlib.sha256(path.read_bytes()).hexdigest() == PUBLISHED_SHA256[name]


def test_the_vocabularies_are_package_data() -> None:
    """pyproject.toml ships llm_cost/vocab/*.tiktoken in the wheel (CI tests the installed wheel, not the tree)."""
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    assert "vocab/*.tiktoken" in setuptools["package-data"]["llm_cost"]
    assert Path(tokens.__file__).resolve().parent / "vocab" == SHIPPED_VOCAB_DIR


# --- exact counts offline ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("model", "text"), list(KNOWN_IDS))
def test_shipped_vocabularies_count_exactly_offline(offline: list[str], model: str, text: str) -> None:
    warnings: list[str] = []
    count = TokenCounter(warn=warnings.append).count(text, model)
    assert count.tokens == len(KNOWN_IDS[(model, text)])
    assert count.exact
    assert warnings == [] and offline == []  # no download was even tried


@pytest.mark.parametrize(
    ("model", "name", "method"),
    [
        ("gpt-4o", "o200k_base", "tiktoken:o200k_base"),
        ("gpt-4o-mini", "o200k_base", "tiktoken:o200k_base"),
        ("gpt-4", "cl100k_base", "tiktoken:cl100k_base"),
        ("gpt-3.5-turbo", "cl100k_base", "tiktoken:cl100k_base"),
        ("claude-sonnet-4-0", "o200k_base", "tiktoken:o200k_base-fallback"),
    ],
)
def test_shipped_counts_equal_tiktokens(
    offline: list[str], monkeypatch: pytest.MonkeyPatch, model: str, name: str, method: str
) -> None:
    counter = TokenCounter()
    encoding = counter._load(name)
    assert encoding is not None
    for text in KNOWN_IDS:
        if text[0] == ("gpt-4" if name == "cl100k_base" else "gpt-4o"):
            assert encoding.encode_ordinary(text[1]) == KNOWN_IDS[text]
    count = counter.count(TEXT * 50, model)
    assert count.tokens == len(reference(name, monkeypatch).encode_ordinary(TEXT * 50))
    assert count.method == method
    assert offline == []


# --- the loading order -------------------------------------------------------------------------------------------


def test_vocab_dir_comes_before_the_shipped_files(
    offline: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With a good file in LLM_COST_VOCAB_DIR the shipped one is never read: here it is damaged and not noticed."""
    given = tmp_path / "given"
    given.mkdir()
    shutil.copy(SHIPPED_VOCAB_DIR / "o200k_base.tiktoken", given)
    monkeypatch.setattr(tokens, "SHIPPED_VOCAB_DIR", tampered(tmp_path / "shipped").parent)
    monkeypatch.setenv("LLM_COST_VOCAB_DIR", str(given))
    assert TokenCounter().count("Hello, world!", "gpt-4o").tokens == 4
    assert TokenCounter(vocab_dir=given).count("Hello, world!", "gpt-4o").tokens == 4
    assert offline == []


def test_shipped_files_when_the_vocab_dir_lacks_the_encoding(offline: list[str], tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    warnings: list[str] = []
    count = TokenCounter(tmp_path / "empty", warn=warnings.append).count("hello world", "gpt-4")
    assert (count.tokens, count.method) == (2, "tiktoken:cl100k_base")
    assert warnings == [] and offline == []


def test_tiktokens_download_when_nothing_is_shipped(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, offline: list[str]
) -> None:
    """Third in line: tiktoken's own cache or download (here a stand-in that serves the published file)."""
    data = (SHIPPED_VOCAB_DIR / "o200k_base.tiktoken").read_bytes()
    served: list[str] = []

    def serve(blobpath: str) -> bytes:
        served.append(blobpath)
        return data

    monkeypatch.setattr(tokens, "SHIPPED_VOCAB_DIR", tmp_path / "nothing-shipped")
    monkeypatch.setattr(tiktoken.load, "read_file", serve)
    count = TokenCounter().count("Hello, world!", "gpt-4o")
    assert (count.tokens, count.method) == (4, "tiktoken:o200k_base")
    assert served == ["https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken"]


def test_approximation_is_the_last_resort(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, offline: list[str]) -> None:
    monkeypatch.setattr(tokens, "SHIPPED_VOCAB_DIR", tmp_path / "nothing-shipped")
    warnings: list[str] = []
    count = TokenCounter(warn=warnings.append).count("x" * 9, "gpt-4o")
    assert (count.tokens, count.method, count.exact) == (3, APPROXIMATION, False)
    assert len(offline) == 1 and len(warnings) == 1 and "approximated as characters/4" in warnings[0]


# --- damaged files fail loudly -----------------------------------------------------------------------------------


def test_a_tampered_shipped_file_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, offline: list[str]
) -> None:
    """A shipped file that is not the published one is never used, nor replaced silently by a download or the
    approximation: the install is broken, and the error says how to fix it (exit 3)."""
    bad = tampered(tmp_path / "shipped")
    monkeypatch.setattr(tokens, "SHIPPED_VOCAB_DIR", bad.parent)
    warnings: list[str] = []
    counter = TokenCounter(warn=warnings.append)
    with pytest.raises(ConfigError) as info:
        counter.count("Hello, world!", "gpt-4o")
    message = str(info.value)
    assert info.value.exit_code == 3
    assert "\n" not in message
    assert f"the o200k_base vocabulary shipped with llm-cost ({bad})" in message
    assert PUBLISHED_SHA256["o200k_base"] in message
    assert "reinstall llm-cost" in message and "LLM_COST_VOCAB_DIR" in message
    assert warnings == [] and offline == []
    # another encoding, intact, still loads
    shutil.copy(SHIPPED_VOCAB_DIR / "cl100k_base.tiktoken", bad.parent)
    assert counter.count("hello world", "gpt-4").tokens == 2


def test_a_tampered_shipped_file_is_noticed_even_when_tiktoken_has_the_encoding(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The check is llm-cost's own: an encoding tiktoken already cached in the process does not hide a bad file."""
    monkeypatch.delenv("LLM_COST_VOCAB_DIR", raising=False)
    assert TokenCounter().count("hello world", "gpt-4o").exact  # now in tiktoken's registry
    monkeypatch.setattr(tokens, "SHIPPED_VOCAB_DIR", tampered(tmp_path / "shipped").parent)
    with pytest.raises(ConfigError, match="does not match OpenAI's published sha256"):
        TokenCounter().count("hello world", "gpt-4o")


def test_a_tampered_file_in_the_vocab_dir_is_an_error(tmp_path: Path, offline: list[str]) -> None:
    bad = tampered(tmp_path / "given", "cl100k_base")
    with pytest.raises(ConfigError) as info:
        TokenCounter(bad.parent).count("hello world", "gpt-4")
    assert f"tiktoken vocabulary {bad} (from --vocab-dir or LLM_COST_VOCAB_DIR)" in str(info.value)
    assert "remove it to use the one shipped with llm-cost" in str(info.value)
    assert offline == []


def test_an_unreadable_vocabulary_is_an_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, offline: list[str]
) -> None:
    real_read_bytes = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "o200k_base.tiktoken":
            raise PermissionError(13, "Permission denied")
        return real_read_bytes(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    with pytest.raises(ConfigError, match=r"cannot read tiktoken vocabulary .*o200k_base.tiktoken: Permission denied"):
        TokenCounter().count("hello", "gpt-4o")


def test_cli_exits_3_with_one_line_on_a_tampered_shipped_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, offline: list[str]
) -> None:
    monkeypatch.setattr(tokens, "SHIPPED_VOCAB_DIR", tampered(tmp_path / "shipped").parent)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["estimate", "--model", "gpt-4o", "--text", "Hello, world!"])
    assert result.exit_code == 3
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: the o200k_base vocabulary shipped")
    assert "Traceback" not in result.stderr


def test_manifest_export_counts_with_the_shipped_files(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, offline: list[str]
) -> None:
    """`export` of a counted prompt, with no LLM_COST_VOCAB_DIR and no network: exact, no warning."""
    (tmp_path / "p.txt").write_text("Hello, world!", encoding="utf-8")
    (tmp_path / "m.toml").write_text('[[prompts]]\npath = "p.txt"\n', encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["export", "-m", "m.toml", "--date", "2025-06-01"])
    assert result.exit_code == 0, result.stderr
    assert "warning" not in result.stderr
    assert '""x-token-method"":""tiktoken:o200k_base""' in result.stdout
    assert offline == []
