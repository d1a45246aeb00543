#!/usr/bin/env python3
"""Set up (or refresh) the local virtual environment, then run the demo or the test suite.

    python3 dev.py demo   # pprl demo on generated agency data
    python3 dev.py test   # the whole test suite (ruff, pytest, notebooks)

Needs only Python >= 3.11 with pip and venv. The environment lives in .venv/ and is reinstalled
whenever pyproject.toml changes.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
STAMP = VENV / ".pprl-installed"


def run(*cmd: str | Path) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], cwd=ROOT, check=True)


def setup() -> None:
    """Create .venv and install pprl with its dev extras, unless already up to date."""
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if STAMP.exists() and STAMP.read_text() == want:
        return
    if not (BIN / "python").exists():
        run(sys.executable, "-m", "venv", VENV)
    run(BIN / "python", "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(BIN / "python", "-m", "pip", "install", "--quiet", "-e", ".[dev]")
    STAMP.write_text(want)


def main(argv: list[str]) -> int:
    if len(argv) < 1 or argv[0] not in {"demo", "test", "setup"}:
        sys.exit(__doc__)
    setup()
    try:
        if argv[0] == "demo":
            run(BIN / "pprl", "demo", *argv[1:])
        elif argv[0] == "test":
            run(BIN / "ruff", "check", ".")
            notebooks = ["--nbmake", "notebooks"] if any(ROOT.glob("notebooks/*.ipynb")) else []
            run(BIN / "python", "-m", "pytest", "-n", "2", "tests", *notebooks, *argv[1:])
    except subprocess.CalledProcessError as err:
        return err.returncode
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
