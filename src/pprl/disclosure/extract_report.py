"""The risk and utility report of a research extract, for the data steward (JSON and Markdown)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from ..io import atomic_path
from .extract_lattice import first_index, group


@dataclass(frozen=True)
class RiskSummary:
    """Re-identification risk of a set of records over the quasi-identifiers."""

    records: int
    classes: int  # equivalence classes (distinct combinations of quasi-identifier values)
    smallest_class: int
    sample_uniques: int  # records whose combination no other record shares
    records_below_k: int  # records in classes smaller than k
    distinct_l: int | None = None  # fewest distinct sensitive values in a class
    entropy_l: float | None = None  # exp(smallest entropy of the sensitive values in a class)


@dataclass(frozen=True)
class ColumnReport:
    """What was done to one quasi-identifier."""

    name: str
    hierarchy: str
    hierarchy_spec: dict  # reproduces the hierarchy (pprl.disclosure.hierarchy_from_spec)
    inferred: bool  # the hierarchy was inferred from the content (not declared)
    level: int
    level_name: str
    levels: list[str]
    distinct_before: int
    distinct_after: int
    information_loss: float  # mean over released records: 0 = as in the input, 1 = all '*'


@dataclass(frozen=True)
class ExtractReport:
    """Risk before and after, what each quasi-identifier became, and what was removed."""

    k: int
    max_suppression: float
    id_column: str
    pseudonym: str
    dropped: list[str]
    quasi_identifiers: list[ColumnReport]
    records_in: int
    records_out: int
    records_suppressed: int
    before: RiskSummary
    after: RiskSummary
    information_loss: float  # the objective: mean column loss over all input records, suppressed = 1
    lattice_size: int
    nodes_evaluated: int
    search_seconds: float
    sensitive: str | None = None
    l_diversity: int | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def suppressed_share(self) -> float:
        return self.records_suppressed / self.records_in if self.records_in else 0.0

    def to_dict(self) -> dict:
        out = asdict(self)
        out["suppressed_share"] = self.suppressed_share
        return out

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

    def to_markdown(self) -> str:
        """A plain-language summary for the data steward."""
        b, a = self.before, self.after
        lines = [
            "# Research extract: risk and utility report",
            "",
            f"- Records: {self.records_in:,} in, {self.records_out:,} released, "
            f"{self.records_suppressed:,} suppressed ({self.suppressed_share:.2%}; "
            f"allowed {self.max_suppression:.2%}).",
            f"- k-anonymity: k = {self.k} over {', '.join(c.name for c in self.quasi_identifiers)}.",
            f"- `{self.id_column}` replaced by project pseudonyms ({self.pseudonym}).",
            f"- Direct identifiers removed: {', '.join(self.dropped) if self.dropped else 'none'}.",
        ]
        if self.l_diversity is not None:
            lines.append(f"- l-diversity enforced: at least {self.l_diversity} distinct values of "
                         f"`{self.sensitive}` in every class.")
        lines += ["", "## Risk", "", "| | before | after |", "|---|---:|---:|",
                  f"| records | {b.records:,} | {a.records:,} |",
                  f"| equivalence classes | {b.classes:,} | {a.classes:,} |",
                  f"| smallest class | {b.smallest_class:,} | {a.smallest_class:,} |",
                  f"| sample-unique records | {b.sample_uniques:,} | {a.sample_uniques:,} |",
                  f"| records in classes < k | {b.records_below_k:,} | {a.records_below_k:,} |"]
        if self.sensitive is not None:
            lines += [f"| distinct l-diversity of `{self.sensitive}` | {b.distinct_l} | {a.distinct_l} |",
                      f"| entropy l-diversity of `{self.sensitive}` | {b.entropy_l:.2f} | "
                      f"{a.entropy_l:.2f} |"]
        lines += ["", "## Quasi-identifiers", "",
                  "| column | hierarchy | generalised to | distinct values | information loss |",
                  "|---|---|---|---:|---:|"]
        for c in self.quasi_identifiers:
            how = f"{c.hierarchy}{' (inferred)' if c.inferred else ''}"
            lines.append(f"| `{c.name}` | {how} | {c.level_name} (level {c.level} of "
                         f"{len(c.levels) - 1}) | {c.distinct_before:,} -> {c.distinct_after:,} | "
                         f"{c.information_loss:.3f} |")
        lines += ["", f"Overall information loss (suppressed records count as fully generalised): "
                  f"{self.information_loss:.3f}. Searched {self.nodes_evaluated:,} of "
                  f"{self.lattice_size:,} generalisation combinations in {self.search_seconds:.2f} s."]
        if self.notes:
            lines += ["", "## Notes", "", *[f"- {note}" for note in self.notes]]
        return "\n".join(lines) + "\n"

    def __str__(self) -> str:
        return self.to_markdown()

    def write(self, path: str | os.PathLike) -> Path:
        """Write atomically: Markdown for ``.md``, JSON otherwise."""
        target = Path(path)
        text = self.to_markdown() if target.suffix.lower() == ".md" else self.to_json() + "\n"
        with atomic_path(target) as tmp:
            tmp.write_text(text, encoding="utf-8")
        return target


def risk_summary(cls: np.ndarray, g: int, k: int, sens: np.ndarray | None = None,
                 sens_card: int = 0, sens_missing: int = -1) -> RiskSummary:
    """Risk of records with class ids ``cls`` (0..g-1, some classes may be empty)."""
    sizes = np.bincount(cls, minlength=g)
    sizes = sizes[sizes > 0]
    per_record = np.bincount(cls, minlength=g)[cls]
    distinct_l = entropy_l = None
    if sens is not None:
        distinct_l, entropy_l = _l_diversity(cls, g, sens, sens_card, sens_missing)
    return RiskSummary(
        records=len(cls),
        classes=len(sizes),
        smallest_class=int(sizes.min()) if len(sizes) else 0,
        sample_uniques=int((sizes == 1).sum()),
        records_below_k=int((per_record < k).sum()),
        distinct_l=distinct_l,
        entropy_l=entropy_l,
    )


def _l_diversity(cls, g, sens, sens_card, sens_missing) -> tuple[int, float]:
    """Fewest distinct non-missing sensitive values in a class, and exp of the smallest entropy."""
    if len(cls) == 0:
        return 0, 0.0
    pair, npair = group([cls.astype(np.int64), sens.astype(np.int64)], [g, sens_card])
    first = first_index(pair, npair)
    pair_cls, pair_sens = cls[first], sens[first]
    pair_n = np.bincount(pair, minlength=npair).astype(float)
    known = pair_sens != sens_missing
    present = np.bincount(cls, minlength=g) > 0
    distinct = np.bincount(pair_cls, weights=known, minlength=g)[present]
    known_n = np.bincount(pair_cls, weights=pair_n * known, minlength=g)
    p = np.where(known, pair_n / np.maximum(known_n[pair_cls], 1), 1.0)
    entropy = np.bincount(pair_cls, weights=np.where(known, -p * np.log(p), 0.0), minlength=g)[present]
    return int(distinct.min()), float(np.exp(entropy.min()))
