"""`llm-cost init`: scaffold a commented llm-cost.toml from the prompt files in a folder."""

from __future__ import annotations

import csv
import io
import os
import re
import tomllib
from pathlib import Path

import pytest
import tiktoken.load
from typer.testing import CliRunner

from llm_cost.cli import app
from llm_cost.sources.init_manifest import (
    PROMPT_SUFFIXES,
    find_prompt_files,
    render_manifest,
    write_manifest,
)
from llm_cost.sources.manifest import load_manifest


@pytest.fixture(autouse=True)
def no_downloads(monkeypatch: pytest.MonkeyPatch) -> None:
    """tiktoken never goes to the network here: without a local vocabulary it fails fast (and llm-cost approximates)."""

    def offline(blobpath: str) -> bytes:
        raise ConnectionError(f"offline test: refusing to fetch {blobpath}")

    monkeypatch.setattr(tiktoken.load, "read_file", offline)


def touch(root: Path, *relatives: str) -> None:
    for relative in relatives:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"Prompt text of {relative}: summarise the ticket and reply in JSON.\n", encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A folder with prompts and with files that are not prompts."""
    root = tmp_path / "project"
    touch(
        root,
        "prompts/search.txt",
        "prompts/triage.md",
        "prompts/notes.prompt",
        "prompts/deep/nested/summary.PROMPT",
        "top.txt",
        # not prompts
        "README.md",
        "docs/readme.txt",
        "CHANGELOG.md",
        "LICENSE.txt",
        "requirements.txt",
        ".hidden.txt",
        ".git/description.txt",
        ".github/workflows/notes.md",
        "node_modules/pkg/readme-too.md",
        "node_modules/pkg/prompt.txt",
        "venv/lib/thing.txt",
        "__pycache__/x.txt",
        "prompts/code.py",
        "prompts/data.json",
        "prompts/notes.rst",
    )
    return root


def relative_paths(root: Path) -> list[str]:
    return [p.relative_to(root).as_posix() for p in find_prompt_files(root)]


def prompt_paths(text: str) -> list[str]:
    """The `path` values in a rendered manifest, whatever TOML layout holds them."""
    return re.findall(r'path = "([^"]+)"', text)


def prompt_ids(text: str) -> list[str]:
    return re.findall(r'prompt_id = "([^"]+)"', text)


# --- finding prompt files ----------------------------------------------------------------------------------------


def test_finds_txt_md_and_prompt_files_sorted(project: Path) -> None:
    assert PROMPT_SUFFIXES == (".txt", ".md", ".prompt")
    # os.walk order: a folder's own files (sorted) before its sub-folders (sorted)
    assert relative_paths(project) == [
        "top.txt",
        "prompts/notes.prompt",
        "prompts/search.txt",
        "prompts/triage.md",
        "prompts/deep/nested/summary.PROMPT",
    ]
    found = set(relative_paths(project))
    assert found == {
        "prompts/notes.prompt",
        "prompts/search.txt",
        "prompts/triage.md",
        "prompts/deep/nested/summary.PROMPT",
        "top.txt",
    }


def test_skips_dotfiles_git_node_modules_and_project_documents(project: Path) -> None:
    found = relative_paths(project)
    for skipped in (
        "README.md",
        "docs/readme.txt",
        "CHANGELOG.md",
        "LICENSE.txt",
        "requirements.txt",
        ".hidden.txt",
        ".git/description.txt",
        ".github/workflows/notes.md",
        "node_modules/pkg/prompt.txt",
        "venv/lib/thing.txt",
        "__pycache__/x.txt",
        "prompts/code.py",
        "prompts/notes.rst",
    ):
        assert skipped not in found


def test_order_is_deterministic(project: Path) -> None:
    first = relative_paths(project)
    assert first == relative_paths(project)
    assert len(first) == len(set(first)) == 5


def test_keeps_prompts_whose_name_starts_like_a_document(tmp_path: Path) -> None:
    touch(tmp_path, "changelog-writer.prompt", "security-review.md", "license_checker.txt", "README.md")
    assert relative_paths(tmp_path) == ["changelog-writer.prompt", "license_checker.txt", "security-review.md"]


# --- rendering ---------------------------------------------------------------------------------------------------


def test_rendered_paths_are_relative_to_the_manifest(project: Path, tmp_path: Path) -> None:
    target = tmp_path / "config" / "llm-cost.toml"
    target.parent.mkdir()
    text, count = render_manifest(project / "prompts", target, "gpt-4o")
    assert count == 4
    assert prompt_paths(text) == [
        "../project/prompts/notes.prompt",
        "../project/prompts/search.txt",
        "../project/prompts/triage.md",
        "../project/prompts/deep/nested/summary.PROMPT",
    ]
    for relative in prompt_paths(text):
        assert (target.parent / relative).is_file()


def test_rendered_paths_inside_the_scanned_folder(project: Path) -> None:
    text, count = render_manifest(project, project / "llm-cost.toml", "gpt-4o")
    assert count == 5
    assert "prompts/search.txt" in prompt_paths(text)
    assert all(not p.startswith(("/", "..")) for p in prompt_paths(text))


def test_rendered_manifest_is_commented(project: Path) -> None:
    text, _ = render_manifest(project, project / "llm-cost.toml", "claude-sonnet-4-0")
    comments = [line for line in text.splitlines() if line.startswith("#")]
    assert len(comments) >= 10
    assert text.startswith("# llm-cost manifest")
    for key in ("input_tokens", "expected_output_tokens", "calls", "cache_hit_ratio", "tags", "[pricing."):
        assert any(key in line for line in comments), key
    assert tomllib.loads(text)["defaults"]["model"] == "claude-sonnet-4-0"


def test_rendered_prompts_are_a_top_level_array_of_tables(project: Path) -> None:
    text, count = render_manifest(project, project / "llm-cost.toml", "gpt-4o")
    data = tomllib.loads(text)
    assert set(data) == {"defaults", "prompts"}
    assert len(data["prompts"]) == count == 5


def test_rendered_prompt_ids_are_unique(tmp_path: Path) -> None:
    touch(tmp_path, "prompts/a.txt", "prompts/a.md", "prompts/b.prompt")
    text, count = render_manifest(tmp_path, tmp_path / "llm-cost.toml", "gpt-4o")
    ids = prompt_ids(text)
    assert len(ids) == count == 3
    assert len(set(ids)) == 3


# --- write_manifest / the init command ---------------------------------------------------------------------------


def test_written_manifest_loads_with_load_manifest(project: Path) -> None:
    target = project / "llm-cost.toml"
    count = write_manifest(project, target, model="gpt-4o-mini", force=False)
    manifest = load_manifest(target)
    assert count == 5
    assert manifest.defaults.model == "gpt-4o-mini"
    assert [p.path for p in manifest.prompts] == prompt_paths(target.read_text(encoding="utf-8"))
    assert all((manifest.base_dir / p.path).is_file() for p in manifest.prompts)


def test_init_with_long_relative_paths_then_export_from_another_cwd(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The manifest goes to another folder: its paths climb out with `..` and `export` resolves them against the
    manifest."""
    runner = CliRunner()
    config = tmp_path / "config"
    config.mkdir()
    result = runner.invoke(app, ["init", "--dir", str(project / "prompts"), "-o", str(config / "llm-cost.toml")])
    assert result.exit_code == 0, result.stderr
    assert "4 prompt(s)" in result.stderr
    assert "[[prompts]]" in (config / "llm-cost.toml").read_text(encoding="utf-8")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    out = elsewhere / "costs.csv"
    result = runner.invoke(
        app, ["export", "--manifest", str(config / "llm-cost.toml"), "--date", "2025-06-01", "-o", str(out)]
    )
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert len({r["ResourceId"] for r in rows}) == 4
    assert {r["x_Model"] for r in rows} == {"gpt-4o"}
    assert {r["ResourceName"] for r in rows} == {
        "../project/prompts/notes.prompt",
        "../project/prompts/search.txt",
        "../project/prompts/triage.md",
        "../project/prompts/deep/nested/summary.PROMPT",
    }


def test_init_in_the_prompt_folder_then_export(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project)
    runner = CliRunner()
    result = runner.invoke(app, ["init"])
    assert result.exit_code == 0, result.stderr
    assert "5 prompt(s)" in result.stderr
    assert len(load_manifest(project / "llm-cost.toml").prompts) == 5

    result = runner.invoke(app, ["export", "--date", "2025-06-01"])
    assert result.exit_code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len({r["ResourceId"] for r in rows}) == 5


def test_init_in_an_empty_folder_writes_a_loadable_commented_manifest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["init", "--model", "claude-sonnet-4-0"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    assert "wrote llm-cost.toml with 0 prompt(s)" in result.stderr
    target = tmp_path / "llm-cost.toml"
    text = target.read_text(encoding="utf-8")
    assert "No prompt files (*.txt, *.md, *.prompt) were found" in text
    assert text.startswith("# ")
    manifest = load_manifest(target)
    assert manifest.defaults.model == "claude-sonnet-4-0"
    assert manifest.prompts == []
    assert oct(target.stat().st_mode & 0o777) == oct(0o644)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["llm-cost.toml"]  # no temporary files left

    # and `export` on it: a header-only CSV, exit 0
    export = CliRunner().invoke(app, ["export", "--date", "2025-06-01"])
    assert export.exit_code == 0, export.stderr
    assert export.stdout.count("\n") == 1
    assert export.stdout.startswith("AvailabilityZone,BilledCost,")
    assert "lists no prompts" in export.stderr


def test_init_refuses_to_overwrite_without_force(project: Path) -> None:
    target = project / "llm-cost.toml"
    target.write_text("# my hand-edited manifest\n", encoding="utf-8")
    before = target.stat()

    result = CliRunner().invoke(app, ["init", "--dir", str(project)])

    assert result.exit_code == 3
    assert result.stderr.count("\n") == 1
    assert result.stderr.startswith("error: ")
    assert "already exists" in result.stderr and "--force" in result.stderr
    assert "Traceback" not in result.stderr
    assert target.read_text(encoding="utf-8") == "# my hand-edited manifest\n"
    assert target.stat().st_mtime_ns == before.st_mtime_ns
    assert not [p for p in project.iterdir() if p.name.endswith(".tmp")]


def test_init_force_overwrites(tmp_path: Path) -> None:
    folder = tmp_path / "empty"
    folder.mkdir()
    target = folder / "llm-cost.toml"
    target.write_text("# old\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["init", "--dir", str(folder), "--force", "--model", "gpt-4o-mini"])
    assert result.exit_code == 0, result.stderr
    assert load_manifest(target).defaults.model == "gpt-4o-mini"
    assert "# old" not in target.read_text(encoding="utf-8")


def test_init_force_overwrites_with_prompts(project: Path) -> None:
    target = project / "llm-cost.toml"
    target.write_text("# old\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["init", "--dir", str(project), "--force"])
    assert result.exit_code == 0, result.stderr
    assert len(load_manifest(target).prompts) == 5


def test_write_manifest_refuses_without_force(tmp_path: Path) -> None:
    from llm_cost.errors import ConfigError

    target = tmp_path / "llm-cost.toml"
    target.write_text("keep", encoding="utf-8")
    with pytest.raises(ConfigError, match="already exists; pass --force"):
        write_manifest(tmp_path, target, model="gpt-4o", force=False)
    assert target.read_text(encoding="utf-8") == "keep"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--dir", "no-such-folder"], "--dir no-such-folder: not a directory"),
        (["--output", "missing/sub/llm-cost.toml"], "does not exist"),
    ],
)
def test_init_bad_paths_exit_3(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], fragment: str) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["init", *args])
    assert result.exit_code == 3
    assert result.stderr.count("\n") == 1
    assert fragment in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_init_help_mentions_the_suffixes() -> None:
    result = CliRunner().invoke(app, ["init", "--help"])
    assert result.exit_code == 0
    for text in ("--dir", "--force", "--model", "*.prompt"):
        assert text in result.stdout


def test_init_does_not_follow_the_cwd_for_relative_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The paths are relative to where the manifest goes, even when --dir is given relative to the CWD."""
    touch(tmp_path, "work/prompts/a.txt")
    (tmp_path / "cfg").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    text, _ = render_manifest(Path("prompts"), Path("../cfg/llm-cost.toml"), "gpt-4o")
    assert prompt_paths(text) == ["../work/prompts/a.txt"]
    assert os.path.isfile(tmp_path / "cfg" / "../work/prompts/a.txt")


def test_a_manifest_that_fails_its_own_load_check_is_not_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """write_manifest validates its temporary file before the rename: on failure the old file stays, no .tmp left."""
    from llm_cost.errors import ConfigError
    from llm_cost.sources import init_manifest

    def reject(path: Path) -> None:
        raise ConfigError(f"invalid manifest {path}: simulated")

    monkeypatch.setattr(init_manifest, "load_manifest", reject)
    target = tmp_path / "llm-cost.toml"
    target.write_text("# old\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["init", "--dir", str(tmp_path), "--force"])
    assert result.exit_code == 3
    assert "simulated" in result.stderr
    assert result.stderr.count("\n") == 1
    assert target.read_text(encoding="utf-8") == "# old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["llm-cost.toml"]
