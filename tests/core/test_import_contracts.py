"""The apps' import layers (pyproject's [tool.importlinter]): notifications above rewards, campaigns
and tiers (it reads their names), checkout above campaigns and tiers, above the ledger, above
accounts and loyalty_site.core. A new import that goes up a layer (a new cycle between apps, e.g.
the ledger importing the tiers again) fails here."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_import_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={"PATH": str(lint.parent), "PYTHONPATH": str(ROOT)},
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "0 broken" in result.stdout
