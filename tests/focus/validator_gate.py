"""Official FOCUS 1.2 validator gate (focus-validator 2.2.1).

Run with the Python of a separate 3.12 venv that has ``focus-validator==2.2.1``
and ``pyarrow<26`` installed, not with the project's interpreter:

    validator_gate.py FILE.csv [FILE.csv ...]

The validator always exits 0, so this script drives it in-process, reads
``result.by_rule_id`` and counts real failures (docs/focus.md §3.4, App. B).
Prints ``FAIL <rule-id>: <message>`` per real failure, then one summary line
per file. Exit 0: no effective failure; 1: some; 2: crash or usage error.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import traceback
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

CRITERIA = ",".join(
    [
        "ACCOUNT_NAMING_SUPPORTED",
        "USAGE_MEASUREMENT_SUPPORTED",
        "UNIT_PRICING_SUPPORTED",
        "PUBLIC_PRICE_LIST_SUPPORTED",
        "NEGOTIATED_PRICING_SUPPORTED",
        "SUB_ACCOUNT_SUPPORTED",
        "TAGGING_SUPPORTED",
        "MULTIPLE_PRICING_CATEGORIES_SUPPORTED",
    ]
)
CURRENCY_CODES = "focus_validator/rules/currency_codes.csv"


@contextlib.contextmanager
def silenced(log_path: Path) -> Iterator[None]:
    """Send fd 1/2 (Python prints, logging, native code) to ``log_path``."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log_path, "ab") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])


def model_rule_ids(requirement: Any) -> set[str]:
    """All ``CheckModelRule`` ids referenced anywhere in a rule requirement."""
    found: set[str] = set()
    if isinstance(requirement, dict):
        if requirement.get("CheckFunction") == "CheckModelRule":
            found.add(requirement["ModelRuleId"])
        for value in requirement.values():
            found |= model_rule_ids(value)
    elif isinstance(requirement, list):
        for value in requirement:
            found |= model_rule_ids(value)
    return found


def excused_rule_ids(result: Any) -> set[str]:
    """Children of OR composites that passed: their losing branches are not failures.

    The OR's ``details.children`` only carry placeholder ids
    (``model_rule_reference#1``), so the child rule ids come from the rule model.
    """
    excused: set[str] = set()
    for rule_id, entry in result.by_rule_id.items():
        details = entry.get("details") or {}
        if entry.get("ok") and details.get("check_type") == "composite" and details.get("aggregated") == "any":
            rule = result.rules.get(rule_id)
            if rule is not None:
                excused |= model_rule_ids(rule.validation_criteria.requirement)
            excused |= {c.get("rule_id") for c in details.get("children", [])}
    return excused


def message_for(result: Any, rule_id: str, details: dict[str, Any]) -> str:
    """One-line failure message for a rule."""
    msg = details.get("message") or details.get("reason")
    rule = result.rules.get(rule_id)
    if not msg and rule is not None:
        msg = rule.validation_criteria.must_satisfy
    text = " ".join(str(msg or "failed").split())
    if "violations" in details:
        text += f" (violations={details['violations']})"
    return text


def check_file(path: Path, log_path: Path) -> int:
    """Validate one CSV, print its failures and summary; return effective failures."""
    from focus_validator.validator import Validator

    with silenced(log_path):
        result = Validator(
            data_filename=str(path),
            output_destination=None,
            output_type="console",
            rules_version="1.2",
            focus_dataset="CostAndUsage",
            rules_block_remote_download=True,
            applicability_criteria=CRITERIA,
        ).validate()

    excused = excused_rule_ids(result)
    passed = failed = skipped = effective = 0
    for rule_id, entry in sorted(result.by_rule_id.items()):
        details = entry.get("details") or {}
        if entry.get("ok") is False:
            failed += 1
            if rule_id not in excused:
                effective += 1
                print(f"FAIL {rule_id}: {message_for(result, rule_id, details)}")
        elif details.get("skipped"):
            skipped += 1
        else:
            passed += 1
    print(
        f"{path}: rules={len(result.by_rule_id)} passed={passed} failed={failed} "
        f"skipped={skipped} effective_failures={effective}",
        flush=True,
    )
    return effective


def main(argv: list[str]) -> int:
    """Gate every file given on the command line."""
    if not argv or any(a.startswith("-") for a in argv):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    files = [Path(a).resolve() for a in argv]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        print(f"no such file: {', '.join(missing)}", file=sys.stderr)
        return 2

    crashed = failing = False
    with tempfile.TemporaryDirectory(prefix="focus-gate-") as scratch:
        work = Path(scratch)
        # focus-validator opens this relative path from the cwd (§3.3, workaround 2).
        (work / CURRENCY_CODES).parent.mkdir(parents=True)
        src = resources.files("focus_validator").joinpath("rules", "currency_codes.csv")
        with resources.as_file(src) as codes:
            shutil.copyfile(codes, work / CURRENCY_CODES)
        log_path = work / "validator-output.log"
        cwd = os.getcwd()
        os.chdir(work)
        try:
            for arg, path in zip(argv, files, strict=False):
                try:
                    failing |= check_file(path, log_path) > 0
                except Exception:
                    crashed = True
                    print(f"ERROR {arg}: validator crashed", flush=True)
                    traceback.print_exc()
                    tail = log_path.read_text(errors="replace").splitlines()[-20:]
                    print("\n".join(tail), file=sys.stderr)
        finally:
            os.chdir(cwd)
    return 2 if crashed else 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
