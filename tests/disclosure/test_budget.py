"""The privacy-budget ledger: refusal before spending, persistence across restarts."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from pprl import disclosure
from pprl.errors import DataError


def test_spent_and_remaining_and_refusal_leave_the_ledger_usable():
    b = disclosure.Budget(epsilon=1.0)
    assert (b.spent, b.remaining, b.measure) == (0.0, 1.0, "epsilon")
    with b.charge(0.7, "first"):
        pass
    refused = pytest.raises(disclosure.BudgetExceeded, match=r"needs epsilon=0\.5 .* 0\.3 of 1")
    with refused, b.charge(0.5, "second"):
        raise AssertionError("the block must not run")
    assert b.spent == pytest.approx(0.7) and [e["label"] for e in b.entries] == ["first"]
    with b.charge(0.3, "third"):
        pass
    assert b.remaining == 0.0
    assert "spent=1.0" in repr(b)


def test_ten_tenths_fit_in_one():
    b = disclosure.Budget(epsilon=1.0)
    for _ in range(10):
        with b.charge(0.1):
            pass
    with pytest.raises(disclosure.BudgetExceeded):
        b.check(1e-6)


def test_a_failed_block_spends_nothing():
    b = disclosure.Budget(rho=0.5)
    with pytest.raises(RuntimeError), b.charge(0.2):
        raise RuntimeError("noise failed")
    assert b.spent == 0 and b.entries == []


def test_ledger_survives_a_restart(tmp_path):
    path = tmp_path / "ledger" / "budget.json"
    b = disclosure.Budget(epsilon=1.0, path=path)
    with b.charge(0.4, "dashboard 2026"):
        pass
    data = json.loads(path.read_text())
    assert data["spent"] == 0.4 and data["measure"] == "epsilon" and data["total"] == 1.0
    assert not list(path.parent.glob("*.tmp"))  # written atomically
    # a new process sees the spend and refuses what no longer fits
    code = (
        "import sys; from pprl import disclosure\n"
        f"b = disclosure.Budget.load({str(path)!r})\n"
        "print(b.spent)\n"
        "try:\n"
        "    b.check(0.7)\n"
        "except disclosure.BudgetExceeded:\n"
        "    print('refused')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["0.4", "refused"]
    again = disclosure.Budget(epsilon=1.0, path=path)
    assert again.spent == pytest.approx(0.4)


def test_two_ledgers_on_one_file_cannot_overspend(tmp_path):
    path = tmp_path / "budget.json"
    first = disclosure.Budget(epsilon=1.0, path=path)
    second = disclosure.Budget(epsilon=1.0, path=path)  # loaded before first spends
    with first.charge(0.6):
        pass
    with pytest.raises(disclosure.BudgetExceeded), second.charge(0.6):
        pass
    assert disclosure.Budget.load(path).spent == pytest.approx(0.6)


def test_bad_ledgers_and_arguments(tmp_path):
    with pytest.raises(ValueError, match="exactly one of epsilon"):
        disclosure.Budget()
    with pytest.raises(ValueError, match="exactly one of epsilon"):
        disclosure.Budget(epsilon=1, rho=1)
    with pytest.raises(ValueError, match="epsilon must be a finite number > 0"):
        disclosure.Budget(epsilon=0)
    with pytest.raises(ValueError, match="cost"):
        disclosure.Budget(epsilon=1).check(-0.1)
    path = tmp_path / "b.json"
    disclosure.Budget(epsilon=1.0, path=path)  # nothing spent: no file yet
    assert not path.exists()
    with disclosure.Budget(epsilon=1.0, path=path).charge(0.1):
        pass
    with pytest.raises(DataError, match=r"b\.json holds epsilon=1\.0, not epsilon=2\.0"):
        disclosure.Budget(epsilon=2.0, path=path)
    path.write_text("{not json")
    with pytest.raises(DataError, match=r"b\.json is not valid JSON"):
        disclosure.Budget.load(path)
    path.write_text(json.dumps({"format": "other"}))
    with pytest.raises(DataError, match="not a pprl privacy-budget ledger"):
        disclosure.Budget.load(path)
    with pytest.raises(DataError, match="budget file not found"):
        disclosure.Budget.load(tmp_path / "missing.json")
