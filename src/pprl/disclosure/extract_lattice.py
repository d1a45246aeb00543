"""The k-anonymity engine behind :func:`pprl.disclosure.extract`: generalisation levels per
quasi-identifier, and the search of the lattice of level combinations for the one with the least
information loss that needs at most a given number of suppressed records.

Information loss is the loss metric (LM) of Iyengar, as in ARX: a cell generalised to a label that
covers ``m`` of the column's ``D`` distinct values loses ``(m - 1) / (D - 1)``; a suppressed record
loses 1 in every column; missing cells lose nothing below '*' (where every cell loses 1). The
objective of a node is the mean over the quasi-identifiers of the per-column loss averaged over all
input records. Its generalisation part alone (nothing suppressed) is a lower bound for the node and
for every node above it, so a best-first walk in order of that bound can stop as soon as the bound
exceeds the best objective found: the result is the exact optimum over the lattice. Nodes are
skipped without evaluation when a node above them (cheap projections onto 1-3 quasi-identifiers)
proves them infeasible or too costly. Node evaluation works on tables of distinct code combinations
with counts, rolled up from the smallest table already computed below the node (as ARX does).
"""

from __future__ import annotations

import heapq
import itertools
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import DataError
from .hierarchies import TOP, Hierarchy

_KEY_LIMIT = 1 << 62
MAX_PROJECTION = 3  # projections onto up to this many quasi-identifiers certify infeasibility
_CACHE_CELLS = 40_000_000  # codes kept in rolled-up tables (about 160 MB of int32)


@dataclass
class QuasiIdentifier:
    """One quasi-identifier with its levels. Codes index the column's distinct values; the last code
    (``missing``) stands for missing cells, which keep their own class below the top level."""

    name: str
    hierarchy: Hierarchy
    level_names: list[str]
    row_codes: np.ndarray  # int32, per record: index into the distinct values, or `missing`
    level_codes: list[np.ndarray]  # per level: distinct value (+ missing) -> level code
    labels: list[np.ndarray]  # per level: level code -> label (None for missing)
    loss_num: list[np.ndarray]  # per level: level code -> distinct values covered - 1
    denom: int  # distinct values - 1 (at least 1)
    gen_num: list[int]  # per level: sum over records of loss_num
    inferred: bool = False
    maps: dict[tuple[int, int], np.ndarray] = field(default_factory=dict)

    @property
    def height(self) -> int:
        return len(self.level_codes)

    @property
    def missing(self) -> int:
        return len(self.level_codes[0]) - 1

    def cards(self, level: int) -> int:
        return len(self.labels[level])

    def level_map(self, a: int, b: int) -> np.ndarray:
        """Level-``a`` code -> level-``b`` code (``a <= b``)."""
        key = (a, b)
        if key not in self.maps:
            out = np.zeros(self.cards(a), dtype=np.int32)
            out[self.level_codes[a]] = self.level_codes[b]
            self.maps[key] = out
        return self.maps[key]


def build_quasi_identifier(name: str, codes: np.ndarray, uniques: np.ndarray, hierarchy: Hierarchy,
                           k: int, inferred: bool = False) -> QuasiIdentifier:
    """Levels, codes and losses of one column: ``codes`` index its distinct text values
    ``uniques`` (-1 for a missing cell)."""
    uniques = np.asarray(uniques, dtype=object)
    n_unique = len(uniques)
    row_codes = np.where(codes < 0, n_unique, codes).astype(np.int32)
    counts_all = np.bincount(row_codes, minlength=n_unique + 1)  # last: missing cells
    n_missing = int(counts_all[-1])
    counts = counts_all[:-1]

    levels = [("value", uniques), *hierarchy.levels(uniques, counts, column=name, k=k)]
    level_names, level_codes, labels = [], [], []
    for lname, lab in levels:
        lab = np.asarray(lab, dtype=object)
        if len(lab) != n_unique:
            raise DataError(f"hierarchy for column {name!r}: level {lname!r} has {len(lab)} labels "
                            f"for {n_unique} values")
        lc, lu = pd.factorize(np.array([str(v) for v in lab], dtype=object))
        _check_tree(name, uniques, level_codes[-1] if level_codes else None, lc, level_names, lname)
        if level_codes and len(lu) == len(labels[-1]) - 1:
            continue  # merges nothing: same partition as the level below
        level_names.append(lname)
        level_codes.append(np.append(lc, len(lu)).astype(np.int32))
        labels.append(np.append(np.asarray(lu, dtype=object), None))
    if len(labels[-1]) - 1 == 1 and not n_missing and len(level_names) > 1:
        level_names.pop(), level_codes.pop(), labels.pop()  # a single label: same as the top level
    level_names.append(TOP)
    level_codes.append(np.zeros(n_unique + 1, dtype=np.int32))
    labels.append(np.array([TOP], dtype=object))

    denom = max(n_unique - 1, 1)
    loss_num, gen_num = [], []
    for lc, lab in zip(level_codes, labels, strict=True):
        covered = np.bincount(lc[:-1], minlength=len(lab))
        num = np.maximum(covered - 1, 0).astype(np.int64)
        if lab[-1] is None:
            num[-1] = 0  # missing cells lose nothing below the top (where all cells lose 1)
        loss_num.append(num)
        gen_num.append(int(np.dot(counts_all, num[lc])))
    return QuasiIdentifier(name, hierarchy, level_names, row_codes, level_codes, labels, loss_num,
                           denom, gen_num, inferred)


def _check_tree(column, uniques, prev_codes, codes, names, lname) -> None:
    """A level must not split a group of the level below (each label has one parent)."""
    if prev_codes is None:
        return
    prev = prev_codes[:-1]
    parent = np.full(prev.max() + 1 if len(prev) else 0, -1, dtype=np.int64)
    parent[prev] = codes
    clash = np.flatnonzero(parent[prev] != codes)
    if len(clash):
        i = clash[0]
        j = np.flatnonzero((prev == prev[i]) & (codes != codes[i]))[0]
        raise DataError(f"hierarchy for column {column!r} is not a tree: values {uniques[i]!r} and "
                        f"{uniques[j]!r} share a label at level {names[-1]!r} but not at {lname!r}")


def group(cols: list[np.ndarray], cards: list[int]) -> tuple[np.ndarray, int]:
    """Dense group ids (int64) of the rows of the code columns, and the number of groups."""
    m = len(cols[0]) if cols else 0
    key = np.zeros(m, dtype=np.int64)
    card = 1
    for col, c in zip(cols, cards, strict=True):
        if card * c >= _KEY_LIMIT:
            key, uniq = pd.factorize(key)
            card = len(uniq)
        key = key * c + col
        card *= c
    if card <= 4 * m + 1024:
        present = np.zeros(card, dtype=np.int64)
        present[key] = 1
        ids = np.cumsum(present) - 1
        return ids[key], int(present.sum())
    ids, uniq = pd.factorize(key)
    return ids.astype(np.int64), len(uniq)


def first_index(ids: np.ndarray, g: int) -> np.ndarray:
    """The first row of each group."""
    first = np.empty(g, dtype=np.int64)
    first[ids[::-1]] = np.arange(len(ids) - 1, -1, -1)
    return first


def _scatter(values: np.ndarray, ids: np.ndarray, g: int) -> np.ndarray:
    """The value of each group, for a column that is constant within groups."""
    out = np.empty(g, dtype=values.dtype)
    out[ids] = values
    return out


@dataclass
class Table:
    """Distinct combinations of the level codes of ``node`` (and of the sensitive value), counted."""

    node: tuple[int, ...]
    cols: list[np.ndarray]
    sens: np.ndarray | None
    weights: np.ndarray

    @property
    def cells(self) -> int:
        return len(self.weights) * (len(self.cols) + 1)


@dataclass
class NodeResult:
    node: tuple[int, ...]
    suppressed: int
    objective: float
    feasible: bool


@dataclass
class SearchResult:
    best: NodeResult
    lattice_size: int
    evaluated: int
    seconds: float


class Lattice:
    """Evaluates nodes (one level per quasi-identifier) and searches for the best one."""

    def __init__(self, qis: list[QuasiIdentifier], k: int, max_suppressed: int,
                 sensitive: np.ndarray | None = None, sens_missing: int = -1, l_diversity: int | None = None):
        self.qis, self.k, self.max_suppressed, self.l_diversity = qis, k, max_suppressed, l_diversity
        self.n = len(qis[0].row_codes)
        self.sens_missing = sens_missing
        self.sens_card = sens_missing + 1
        self.rows = Table(tuple(0 for _ in qis), [q.row_codes for q in qis],
                          sensitive if l_diversity is not None else None,
                          np.ones(self.n, dtype=np.int64))
        self.bottom = self._rollup(self.rows, self.rows.node)
        self.cache: dict[tuple[int, ...], Table] = {self.bottom.node: self.bottom}
        self.results: dict[tuple[int, ...], NodeResult] = {}
        self.infeasible: list[tuple[int, ...]] = []
        self.top = tuple(q.height - 1 for q in qis)
        self.evaluated = 0

    # -- scores -------------------------------------------------------------------------------
    def lower_bound(self, node) -> float:
        """Generalisation loss of ``node`` with nothing suppressed."""
        return sum(q.gen_num[lv] / (self.n * q.denom) for q, lv in zip(self.qis, node, strict=True)) \
            / len(self.qis)

    def objective(self, node, suppressed: int, supp_num: list[int]) -> float:
        """Loss with the suppressed records counted as fully generalised."""
        total = 0.0
        for q, lv, sn in zip(self.qis, node, supp_num, strict=True):
            total += (q.gen_num[lv] - sn + suppressed * q.denom) / (self.n * q.denom)
        return total / len(self.qis)

    # -- tables -------------------------------------------------------------------------------
    def _rollup(self, src: Table, node) -> Table:
        """The table of ``node`` from the table of a node below it."""
        return self._rollup_ids(src, node)[0]

    def _rollup_ids(self, src: Table, node) -> tuple[Table, np.ndarray]:
        """The table of ``node`` and, for each row of ``src``, its row in that table."""
        cards = [q.cards(b) for q, b in zip(self.qis, node, strict=True)]
        cols = [None if card == 1 else (q.level_map(a, b)[c] if a != b else c)
                for q, a, b, c, card in zip(self.qis, src.node, node, src.cols, cards, strict=True)]
        keyed = [(c, card) for c, card in zip(cols, cards, strict=True) if c is not None]
        if src.sens is not None:
            keyed.append((src.sens, self.sens_card))
        if keyed:
            ids, g = group([c for c, _ in keyed], [card for _, card in keyed])
        else:
            ids, g = np.zeros(len(src.weights), dtype=np.int64), min(len(src.weights), 1)
        table = Table(tuple(node), [np.zeros(g, np.int32) if c is None else _scatter(c, ids, g)
                                    for c in cols],
                      None if src.sens is None else _scatter(src.sens, ids, g),
                      np.bincount(ids, weights=src.weights, minlength=g).astype(np.int64))
        return table, ids

    def table(self, node) -> Table:
        node = tuple(node)
        if node in self.cache:
            return self.cache[node]
        arr = np.array(node)
        best = None
        for other, tab in self.cache.items():
            if (best is None or len(tab.weights) < len(best.weights)) and np.all(np.array(other) <= arr):
                best = tab
        tab = self._rollup(best, node)
        self._remember(tab)
        return tab

    def _remember(self, tab: Table) -> None:
        self.cache[tab.node] = tab
        total = sum(t.cells for t in self.cache.values())
        while total > _CACHE_CELLS and len(self.cache) > 1:
            victim = max((t for t in self.cache.values() if t is not self.bottom), key=lambda t: t.cells)
            total -= victim.cells
            del self.cache[victim.node]

    def small_rows(self, tab: Table) -> np.ndarray:
        """Mask of the table rows that lie in classes violating k (or l_diversity)."""
        if tab.sens is None:
            return tab.weights < self.k
        cls, g = group(tab.cols, [q.cards(b) for q, b in zip(self.qis, tab.node, strict=True)])
        size = np.bincount(cls, weights=tab.weights, minlength=g)
        distinct = np.bincount(cls, weights=(tab.sens != self.sens_missing), minlength=g)
        return ((size < self.k) | (distinct < self.l_diversity))[cls]

    def evaluate(self, node) -> NodeResult:
        """Suppression and objective of ``node`` (memoised)."""
        node = tuple(node)
        if node in self.results:
            return self.results[node]
        self.evaluated += 1
        tab = self.table(node)
        small = self.small_rows(tab)
        w = tab.weights[small]
        suppressed = int(w.sum())
        supp_num = [int(np.dot(w, q.loss_num[lv][c[small]]))
                    for q, lv, c in zip(self.qis, tab.node, tab.cols, strict=True)]
        result = NodeResult(node, suppressed, self.objective(node, suppressed, supp_num),
                            suppressed <= self.max_suppressed)
        self.results[node] = result
        if not result.feasible:
            self.infeasible.append(node)
        return result

    def can_skip(self, node, best: NodeResult | None) -> bool:
        """True if ``node`` is certainly infeasible or certainly worse than ``best``.

        Suppression only shrinks as classes merge, so an infeasible node makes every node below it
        infeasible. Projections of ``node`` onto one, two or three quasi-identifiers (the others
        at '*') lie above it and have few classes, so they are cheap certificates. A projection's
        suppressed records are also suppressed at ``node``, and cost at least as much there, so
        its suppression penalty plus the generalisation loss of ``node`` bounds ``node`` below."""
        arr = np.asarray(node)
        if self.infeasible and np.any(np.all(np.asarray(self.infeasible) >= arr, axis=1)):
            return True
        q = len(node)
        bound = self.lower_bound(node)
        for size in range(1, min(q, MAX_PROJECTION + 1)):
            penalty = 0.0
            for subset in itertools.combinations(range(q), size):
                proj = tuple(node[i] if i in subset else self.top[i] for i in range(q))
                result = self.evaluate(proj)
                if not result.feasible:
                    return True
                penalty = max(penalty, result.objective - self.lower_bound(proj))
            if best is not None and bound + penalty > best.objective:
                return True
        return False

    # -- search -------------------------------------------------------------------------------
    def search(self) -> SearchResult:
        """Best-first walk in order of the lower bound; exact optimum over the lattice."""
        start = time.perf_counter()
        heights = [q.height for q in self.qis]
        bottom = tuple(0 for _ in heights)
        heap = [(self.lower_bound(bottom), 0, bottom)]
        seen = {bottom}
        best: NodeResult | None = None
        while heap:
            bound, _, node = heapq.heappop(heap)
            if best is not None and bound > best.objective:
                break
            for i, h in enumerate(heights):
                if node[i] + 1 < h:
                    up = (*node[:i], node[i] + 1, *node[i + 1:])
                    if up not in seen:
                        seen.add(up)
                        heapq.heappush(heap, (self.lower_bound(up), sum(up), up))
            if self.can_skip(node, best):
                continue
            result = self.evaluate(node)
            if result.feasible and (best is None or _rank(result) < _rank(best)):
                best = result
        if best is None:
            raise DataError("no generalisation meets the requirement: even with every "
                            "quasi-identifier at '*' the one class left is smaller than k or has "
                            "fewer than l_diversity distinct sensitive values")
        return SearchResult(best, int(np.prod(heights)), self.evaluated, time.perf_counter() - start)

    # -- records --------------------------------------------------------------------------------
    def keep_rows(self, node) -> np.ndarray:
        """Mask of the records kept at ``node``: those in classes meeting k (and l)."""
        table, ids = self._rollup_ids(self.rows, node)
        return ~self.small_rows(table)[ids]

    def row_classes(self, node) -> tuple[np.ndarray, int]:
        """Per record: the id of its equivalence class at ``node``; and the number of classes."""
        cols = [q.level_codes[lv][q.row_codes] for q, lv in zip(self.qis, node, strict=True)]
        return group(cols, [q.cards(lv) for q, lv in zip(self.qis, node, strict=True)])


def _rank(r: NodeResult):
    return (r.objective, sum(r.node), r.node)
