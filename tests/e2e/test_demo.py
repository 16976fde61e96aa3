"""The README's main job: ``caspira demo`` passes its own end-to-end checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CASPIRA = Path(sys.executable).parent / "caspira"


def test_the_demo_turns_every_bug_report_into_one_checked_issue():
    done = subprocess.run(
        [str(CASPIRA), "demo", "--records", "25", "--timeout", "90"],
        capture_output=True,
        text=True,
        timeout=180,
    )

    assert done.returncode == 0, done.stdout + done.stderr
    assert "25/25 records became exactly one correct issue" in done.stdout
    assert "demo passed" in done.stdout
    assert "'dead': 0" in done.stdout


def test_the_demo_runs_on_postgresql(postgres_url):
    done = subprocess.run(
        [str(CASPIRA), "demo", "--records", "6", "--database", postgres_url],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "6/6 records became exactly one correct issue" in done.stdout
