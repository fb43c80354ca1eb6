"""`llm-cost init`: scaffold a commented llm-cost.toml from the prompt files found in a folder."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import tomli_w

from llm_cost.errors import ConfigError
from llm_cost.sources.manifest import load_manifest, slugify

PROMPT_SUFFIXES = (".txt", ".md", ".prompt")
SKIP_DIRS = frozenset({"node_modules", "venv", "__pycache__", "site-packages", "dist", "build"})
# Project documents, not prompts.
SKIP_STEMS = frozenset(
    {
        "readme",
        "changelog",
        "license",
        "contributing",
        "code_of_conduct",
        "security",
        "notice",
        "authors",
        "requirements",
    }
)

HEADER = """\
# llm-cost manifest: the prompts whose cost `llm-cost export` estimates for each charge day.
# Written by `llm-cost init`; edit freely. Reference: llm-cost.toml.example and the README.
#
# Cost of a prompt for a day = calls x (uncached input x input price
#                                       + cached input x cache-read price + output x output price)
# Prices come from genai-prices for the charge day; token counts from tiktoken, unless input_tokens is set.
#
# Optional keys of a [[prompts]] entry:
#   model = "claude-sonnet-4-0"     # else [defaults] model
#   input_tokens = 1200             # overrides counting the file
#   expected_output_tokens = 300    # default 0
#   calls = 500                     # calls per day, default 1
#   cache_hit_ratio = 0.6           # share of input read from cache, 0-1
#   tags = { team = "search" }      # beats [tags]; a `team` tag becomes the FOCUS SubAccount
#
# Global tags, on every row:
#   [tags]
#   app = "my-app"
#
# Negotiated or unknown-model prices, USD per million tokens:
#   [pricing."my-finetune"]
#   input_mtok = 3.0
#   output_mtok = 12.0
#   cache_read_mtok = 0.3
#   cache_write_mtok = 3.75
#   provider = "openai"
"""


def find_prompt_files(root: Path) -> Iterator[Path]:
    """Prompt files under `root`, sorted, skipping hidden files and folders, dependency folders and docs."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIP_DIRS)
        for name in sorted(files):
            path = Path(folder) / name
            if name.startswith(".") or path.suffix.lower() not in PROMPT_SUFFIXES:
                continue
            if path.suffix.lower() != ".prompt" and path.stem.lower() in SKIP_STEMS:
                continue
            yield path


def render_manifest(root: Path, target: Path, model: str) -> tuple[str, int]:
    """The manifest text and its number of prompts. Paths are relative to the manifest's folder."""
    base = target.parent.resolve()
    prompts = []
    for path in find_prompt_files(root):
        relative = Path(os.path.relpath(path.resolve(), base)).as_posix()
        prompts.append({"path": relative, "prompt_id": slugify(relative)})
    parts = [HEADER, "\n", tomli_w.dumps({"defaults": {"model": model}})]
    if prompts:
        parts.append("\n# One entry per prompt file found.\n")
        # One [[prompts]] table each: tomli-w would write a short list as an inline array under [defaults].
        parts += [f"\n[[prompts]]\n{tomli_w.dumps(prompt)}" for prompt in prompts]
    else:
        parts.append("\n# No prompt files (*.txt, *.md, *.prompt) were found; add [[prompts]] entries here.\n")
    return "".join(parts), len(prompts)


def write_manifest(root: Path, target: Path, *, model: str, force: bool) -> int:
    """Write the manifest atomically; refuse to replace an existing one without `force`."""
    if not root.is_dir():
        raise ConfigError(f"--dir {root}: not a directory")
    if target.exists() and not force:
        raise ConfigError(f"{target} already exists; pass --force to overwrite it")
    if not target.parent.is_dir():
        raise ConfigError(f"cannot write {target}: directory {target.parent} does not exist")
    text, count = render_manifest(root, target, model)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as exc:
        raise ConfigError(f"cannot write {target}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        load_manifest(Path(tmp))  # what we write must load
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return count
