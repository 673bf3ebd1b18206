"""The complexity budget (issue 17): `ruff check .`, which CI runs, fails on a function whose
cyclomatic complexity is above 20 (pyproject.toml: C90, max-complexity 20)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RUFF = Path(sys.executable).parent / "ruff"


def _function(branches: int) -> str:
    body = "".join(f"    if x == {n}:\n        return {n}\n" for n in range(branches))
    return f"def f(x):\n{body}    return -1\n"


def _check(tmp_path, branches: int) -> subprocess.CompletedProcess:
    source = tmp_path / "budget.py"
    source.write_text(_function(branches))
    return subprocess.run(
        [str(RUFF), "check", "--config", str(ROOT / "pyproject.toml"), "--no-cache", str(source)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_ruff_refuses_a_function_above_complexity_20_and_accepts_20(tmp_path):
    over = _check(tmp_path, 20)  # 20 branches + 1 = 21
    assert over.returncode == 1
    assert "C901 `f` is too complex (21 > 20)" in over.stdout
    assert _check(tmp_path, 19).returncode == 0  # exactly 20
