"""Gate the golden FOCUS 1.2 CSVs with the official validator (focus-validator 2.2.1).

focus-validator 2.x needs Python >= 3.12, so it runs from its own venv through
``validator_gate.py`` (docs/focus.md §3, Appendix B). Environment:

- ``LLM_COST_PYTHON312``: the 3.12 interpreter (default: pyenv 3.12.*, then PATH);
- ``LLM_COST_FV_VENV``: the validator venv (default ``~/.cache/llm-cost/focus-validator-2.2.1``);
- ``LLM_COST_REQUIRE_VALIDATOR=1``: fail instead of skip when it cannot be set up (CI).
"""

from __future__ import annotations

import csv
import fcntl
import io
import os
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest

FV_VERSION = "2.2.1"
REQUIREMENTS = [f"focus-validator=={FV_VERSION}", "pyarrow<26"]
HERE = Path(__file__).resolve().parent
GATE = HERE / "validator_gate.py"
FIXTURE = HERE / "data" / "appendix_a_focus_1_2.csv"
GOLDEN = sorted((HERE.parent / "golden").glob("*focus-1.2*.csv"))
GATE_TIMEOUT = 900
SUMMARY = re.compile(r"(.+): rules=\d+ passed=\d+ failed=\d+ skipped=\d+ effective_failures=\d+$")


@dataclass
class GateRun:
    """One gate invocation: exit code, output, and the output block of each file."""

    returncode: int
    output: str
    blocks: dict[str, str]

    def block(self, path: Path) -> str:
        """The FAIL lines and summary line printed for ``path``."""
        return self.blocks.get(str(path.resolve()), "")


def _fail_or_skip(reason: str) -> NoReturn:
    """Skip, or fail when CI demands the validator (LLM_COST_REQUIRE_VALIDATOR=1)."""
    if os.environ.get("LLM_COST_REQUIRE_VALIDATOR") == "1":
        pytest.fail(f"official FOCUS validator required but unavailable: {reason}")
    pytest.skip(f"official FOCUS validator unavailable: {reason}")


def _is_py312(python: str) -> bool:
    """True when ``python`` runs and is CPython 3.12."""
    try:
        out = subprocess.run(
            [python, "-c", "import sys; print(sys.version_info[:2] == (3, 12))"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    except OSError:
        return False
    return out.stdout.strip() == "True"


def find_python312() -> str | None:
    """Locate a Python 3.12 interpreter (env var, pyenv, then PATH)."""
    if "LLM_COST_PYTHON312" in os.environ:
        python = os.environ["LLM_COST_PYTHON312"]
        return python if _is_py312(python) else None
    root = Path.home() / ".pyenv"
    if shutil.which("pyenv"):
        out = subprocess.run(["pyenv", "root"], capture_output=True, text=True)
        if out.returncode == 0 and out.stdout.strip():
            root = Path(out.stdout.strip())

    def patch(p: Path) -> int:
        tail = p.parts[-3].split(".")[-1]
        return int(tail) if tail.isdigit() else -1

    candidates = sorted(root.glob("versions/3.12.*/bin/python3.12"), key=patch, reverse=True)
    on_path = shutil.which("python3.12")
    for python in [*map(str, candidates), *([on_path] if on_path else [])]:
        if _is_py312(python):
            return python
    return None


def _venv_ok(venv_python: Path) -> bool:
    """True when the venv imports focus_validator at the pinned version."""
    check = "import focus_validator, importlib.metadata as m; print(m.version('focus-validator'))"
    try:
        out = subprocess.run([str(venv_python), "-c", check], capture_output=True, text=True)
    except OSError:
        return False
    return out.returncode == 0 and out.stdout.strip() == FV_VERSION


def ensure_venv(python312: str) -> Path:
    """Build (or reuse) the validator venv under a file lock; return its python."""
    default = Path.home() / ".cache" / "llm-cost" / f"focus-validator-{FV_VERSION}"
    venv = Path(os.environ.get("LLM_COST_FV_VENV", default)).expanduser()
    venv_python = venv / "bin" / "python"
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f".{venv.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # a second run waits, then reuses
        if _venv_ok(venv_python):
            return venv_python
        shutil.rmtree(venv, ignore_errors=True)
        for cmd in (
            [python312, "-m", "venv", str(venv)],
            [str(venv_python), "-m", "pip", "install", "-q", "--disable-pip-version-check", *REQUIREMENTS],
        ):
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=1200)
            if out.returncode != 0:
                shutil.rmtree(venv, ignore_errors=True)
                tail = "\n".join((out.stdout + out.stderr).strip().splitlines()[-15:])
                raise RuntimeError(f"`{' '.join(cmd)}` failed:\n{tail}")
        if not _venv_ok(venv_python):
            raise RuntimeError(f"{venv} does not import focus_validator {FV_VERSION}")
    return venv_python


def run_gate(venv_python: Path, files: list[Path]) -> GateRun:
    """Run validator_gate.py once on ``files`` and split its output per file."""
    proc = subprocess.run(
        [str(venv_python), str(GATE), *map(str, files)],
        capture_output=True,
        text=True,
        timeout=GATE_TIMEOUT,
    )
    blocks: dict[str, str] = {}
    current: list[str] = []
    for line in proc.stdout.splitlines():
        if line.startswith("ERROR "):  # a crashed file has no summary line
            current = []
            continue
        current.append(line)
        m = SUMMARY.match(line)
        if m:
            blocks[m.group(1)] = "\n".join(current)
            current = []
    output = f"exit={proc.returncode}\n{proc.stdout}{proc.stderr}"
    return GateRun(proc.returncode, output, blocks)


def effective_failures(block: str) -> int | None:
    """The ``effective_failures`` count of a file's summary line, if any."""
    m = re.search(r"effective_failures=(\d+)$", block)
    return int(m.group(1)) if m else None


@pytest.fixture(scope="session")
def gate_python() -> Path:
    """The validator venv's python, or skip/fail with the reason it is unavailable."""
    python312 = find_python312()
    if python312 is None:
        _fail_or_skip(
            "no Python 3.12 interpreter found (set LLM_COST_PYTHON312, install pyenv 3.12.x, or put python3.12 on PATH)"
        )
    try:
        return ensure_venv(python312)
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        _fail_or_skip(f"installing {' '.join(REQUIREMENTS)} failed: {exc}")


# --- controls -------------------------------------------------------------


def _edit_column(column: str, edit: Callable[[str], str]) -> Callable[[str], str]:
    """A CSV transform that rewrites every value of ``column``."""

    def transform(text: str) -> str:
        rows = list(csv.reader(io.StringIO(text)))
        idx = rows[0].index(column)
        for row in rows[1:]:
            row[idx] = edit(row[idx])
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        return buf.getvalue()

    return transform


NEGATIVE = {
    "integer-quantity": (
        _edit_column("ConsumedQuantity", lambda v: str(int(float(v)))),
        "ConsumedQuantity-C-001-M",
    ),
    "tags-invalid-json": (_edit_column("Tags", lambda v: "{team:ml}"), "Tags-C-001-M"),
    "lowercase-currency": (
        _edit_column("BillingCurrency", str.lower),
        "BillingCurrency-C-003-M",
    ),
}


@pytest.fixture(scope="session")
def negative_run(gate_python: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[GateRun, dict[str, Path]]:
    """Write every negative variant and gate them all in one validator process."""
    text = FIXTURE.read_text()
    assert _edit_column("Tags", str)(text) == text, "CSV round trip must be byte-exact"
    out_dir = tmp_path_factory.mktemp("focus-negative")
    files = {}
    for name, (transform, _) in NEGATIVE.items():
        files[name] = out_dir / f"{name}.csv"
        variant = transform(text)
        assert variant != text
        files[name].write_text(variant)
    return run_gate(gate_python, list(files.values())), files


def test_fixture_passes_gate(gate_python: Path) -> None:
    """Positive control: the Appendix A fixture has no effective failure."""
    run = run_gate(gate_python, [FIXTURE])
    assert run.returncode == 0, run.output
    assert effective_failures(run.block(FIXTURE)) == 0, run.output


@pytest.mark.parametrize("variant", list(NEGATIVE))
def test_negative_control_fails_gate(variant: str, negative_run: tuple[GateRun, dict[str, Path]]) -> None:
    """Negative control: a broken variant fails and names the expected rule."""
    run, files = negative_run
    expected_rule = NEGATIVE[variant][1]
    block = run.block(files[variant])
    assert run.returncode == 1, run.output
    assert (effective_failures(block) or 0) > 0, run.output
    assert f"FAIL {expected_rule}:" in block, run.output


# --- golden files -----------------------------------------------------------


@pytest.fixture(scope="session")
def golden_run(gate_python: Path) -> GateRun:
    """Gate all golden FOCUS 1.2 files in one validator process."""
    return run_gate(gate_python, GOLDEN)


GOLDEN_PARAMS = [pytest.param(p, id=p.name) for p in GOLDEN] or [
    pytest.param(
        None,
        id="no-golden-files",
        marks=pytest.mark.skip(reason="no tests/golden/*focus-1.2*.csv files yet"),
    )
]


@pytest.mark.parametrize("golden", GOLDEN_PARAMS)
def test_golden_file_passes_gate(golden: Path, golden_run: GateRun) -> None:
    """Every golden FOCUS 1.2 CSV passes the official validator gate."""
    block = golden_run.block(golden)
    assert effective_failures(block) == 0, f"{golden.name}:\n{block}\n\n{golden_run.output}"
