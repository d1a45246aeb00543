"""The privacy-budget ledger: refuse a release that would overspend, before any noise is drawn.

OpenDP's own privacy filter locks after one refused query and lives only in memory; this ledger
is checked *before* a mechanism runs, stays usable after a refusal, and persists to a JSON file
(atomically, under a file lock) so that an annual release cannot overspend across runs.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from .._log import logger
from ..errors import DataError, PprlError
from ..io import atomic_path

try:  # POSIX advisory locks; elsewhere the ledger still works within one process
    import fcntl
except ImportError:  # pragma: no cover - not on Linux
    fcntl = None  # type: ignore[assignment]

FORMAT = "pprl-privacy-budget"
#: Relative slack when comparing spent + cost with the total (floating-point sums of epsilons).
TOLERANCE = 1e-9


class BudgetExceeded(PprlError, ValueError):
    """A release would spend more than the ledger has left; nothing was spent or drawn."""


def _check_amount(name: str, value: object, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}")
    return v


class Budget:
    """A privacy-loss ledger in ``epsilon`` (pure DP) or ``rho`` (zero-concentrated DP).

    ``Budget(epsilon=1.0, path="budget.json")`` persists every charge to ``path``; if the file
    exists, its history is loaded (its total and measure must match). Pure-DP releases can be
    charged to a ``rho`` ledger (epsilon-DP implies epsilon**2/2-zCDP); zCDP releases cannot be
    charged to an ``epsilon`` ledger.
    """

    def __init__(self, epsilon: float | None = None, *, rho: float | None = None,
                 path: str | os.PathLike | None = None):
        if (epsilon is None) == (rho is None):
            raise ValueError("Budget: give exactly one of epsilon= (pure DP) or rho= (zCDP)")
        self.measure = "epsilon" if epsilon is not None else "rho"
        self.total = _check_amount(self.measure, epsilon if epsilon is not None else rho)
        self.path = Path(path) if path is not None else None
        self.entries: list[dict] = []
        if self.path is not None and self.path.exists():
            self._reload()

    @classmethod
    def load(cls, path: str | os.PathLike) -> Budget:
        """The ledger stored at ``path``."""
        data = _read(Path(path))
        return cls(**{data["measure"]: data["total"]}, path=path)

    @property
    def spent(self) -> float:
        return math.fsum(e["cost"] for e in self.entries)

    @property
    def remaining(self) -> float:
        return max(0.0, self.total - self.spent)

    def __repr__(self) -> str:
        where = f", path={str(self.path)!r}" if self.path else ""
        return (f"Budget({self.measure}={self.total!r}, spent={self.spent!r}, "
                f"remaining={self.remaining!r}{where})")

    def check(self, cost: float, label: str = "release") -> None:
        """Raise :class:`BudgetExceeded` if spending ``cost`` now would overspend."""
        cost = _check_amount("cost", cost, allow_zero=True)
        if self.spent + cost > self.total * (1 + TOLERANCE):
            raise BudgetExceeded(
                f"{label} needs {self.measure}={cost:g} but the budget has {self.remaining:g} "
                f"of {self.total:g} left ({self.measure} spent: {self.spent:g}"
                + (f", ledger {self.path}" if self.path else "") + "); nothing was released"
            )

    @contextlib.contextmanager
    def charge(self, cost: float, label: str = "release") -> Iterator[None]:
        """Check, run the block (which draws the noise), then record ``cost``.

        The check happens before the block, against the ledger file's current state when there
        is one (under an exclusive lock held until the charge is written), so a refused release
        draws no noise and leaves the ledger unchanged. If the block raises, nothing is recorded.
        """
        with self._locked():
            if self.path is not None and self.path.exists():
                self._reload()
            self.check(cost, label)
            yield
            self.entries.append({
                "label": label,
                "cost": float(cost),
                "time": datetime.now(UTC).isoformat(timespec="seconds"),
            })
            if self.path is not None:
                self._save()
        logger.info("budget: %s spent %s=%g (remaining %g)", label, self.measure, cost,
                    self.remaining)

    def to_dict(self) -> dict:
        return {"format": FORMAT, "version": 1, "measure": self.measure, "total": self.total,
                "spent": self.spent, "entries": list(self.entries)}

    # -- persistence ----------------------------------------------------------------------------
    def _reload(self) -> None:
        assert self.path is not None
        data = _read(self.path)
        if data["measure"] != self.measure or not math.isclose(data["total"], self.total):
            raise DataError(
                f"budget file {self.path} holds {data['measure']}={data['total']}, "
                f"not {self.measure}={self.total}"
            )
        self.entries = data["entries"]

    def _save(self) -> None:
        assert self.path is not None
        with atomic_path(self.path) as tmp:
            tmp.write_text(json.dumps(self.to_dict(), indent=2) + "\n", encoding="utf-8")

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        if self.path is None or fcntl is None:
            yield
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = self.path.with_name(self.path.name + ".lock")
        with open(lock, "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)


def _read(path: Path) -> dict:
    """Parse and validate a budget file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"budget file not found: {path}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise DataError(f"budget file {path} is not valid JSON ({err})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise DataError(f"budget file {path} is not a pprl privacy-budget ledger")
    if data.get("measure") not in ("epsilon", "rho"):
        raise DataError(f"budget file {path}: 'measure' must be 'epsilon' or 'rho'")
    entries = data.get("entries")
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("cost"), int | float) and e["cost"] >= 0
        for e in entries
    ):
        raise DataError(f"budget file {path}: 'entries' must be a list of {{label, cost, time}}")
    try:
        data["total"] = _check_amount("total", data.get("total"))
    except ValueError as err:
        raise DataError(f"budget file {path}: {err}") from None
    return data
