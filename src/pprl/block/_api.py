"""``candidates``: choose a blocking method, run it, score the pairs, report what happened."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from .._log import logger
from ..candidates import Candidates
from ..compare import Blocks, dice, dice_blocks, score_pairs
from ..compare._engine import check_threshold, check_top_k, resolve_workers
from ..encodings import Encodings
from ..errors import DataError
from .lsh import DEFAULT_SEED, LshPlan, LshRun, check_recall, lsh_pairs, plan_lsh, total_pairs
from .report import BlockingReport, pairs_histogram
from .signatures import OVERSIZED_RULES, SignatureBlocks, shared_key_names, signature_blocks

METHODS = ("auto", "none", "signatures", "lsh", "signatures+lsh")
# All pairs below this many comparisons: about 10 s on 2 cores (pprl.compare.dice does 2-5e8
# pairs/s here), less than planning and running any blocking that could lose pairs.
EXACT_PAIRS = 2_000_000_000


def check_method(blocking) -> str:
    method = "none" if blocking is None else blocking
    if method not in METHODS:
        raise ValueError(f"blocking must be one of 'auto', None/'none', 'signatures', 'lsh', "
                         f"'signatures+lsh', got {blocking!r}")
    return method


def _check_encodings(a, b) -> None:
    for name, enc in (("a", a), ("b", b)):
        if enc is not None and not isinstance(enc, Encodings):
            raise TypeError(f"{name} must be pprl.Encodings, got {type(enc).__name__}")
    if b is not None:
        a.check_compatible(b)


def candidates(a: Encodings, b: Encodings | None = None, *, threshold: float,
               blocking: str | None = "auto", workers: int | None = None, progress: bool = False,
               top_k: int | None = None, recall: float = 0.99, max_block_pairs: int | None = None,
               oversized: str = "split", exact_pairs: int = EXACT_PAIRS,
               seed: int = DEFAULT_SEED) -> tuple[Candidates, BlockingReport]:
    """Pairs with Dice >= ``threshold``, found through blocking, and a report of how.

    Args:
        a, b: the encodings; ``b=None`` deduplicates within ``a``.
        threshold: the lowest Dice kept. The candidates are exactly as :func:`pprl.compare.dice`
            returns them (sorted, unique, ids and field scores kept), restricted to the pairs the
            blocking compared.
        blocking: ``"auto"`` picks all pairs when there are at most ``exact_pairs`` of them,
            else keyed signatures when both sides carry the same blocking keys, else LSH over
            the CLK bits, unless LSH at this threshold would cost more than all pairs (then all
            pairs); ``None``/``"none"``: all pairs (exact); ``"signatures"``: the blocking keys
            of the encodings (:mod:`pprl.block.signatures`); ``"lsh"``: CLK-only LSH
            (:mod:`pprl.block.lsh`); ``"signatures+lsh"``: the union of both (the signatures'
            pairs plus LSH's guarantee at the threshold; costs about what LSH costs).
        workers: threads (None: every core).
        progress: progress bars on stderr.
        top_k: keep only each left record's ``top_k`` best pairs among those found (as
            :func:`pprl.compare.dice` does among all pairs).
        recall: LSH's target probability of finding a pair at Dice = threshold.
        max_block_pairs, oversized: the oversized-block rule of signatures (``"split"`` by LSH
            inside the block or ``"drop"``; see :mod:`pprl.block.signatures`).
        exact_pairs: the all-pairs limit of ``"auto"``.
        seed: LSH seed (the same seed, the same bands).

    Returns:
        ``(candidates, report)``; ``str(report)`` is a one-line summary of the method, why it was
        chosen, comparisons, reduction ratio and, for LSH, the recall guarantee and an estimate of
        the pair completeness.
    """
    _check_encodings(a, b)
    return run_blocking(a, b, a.block_keys, None if b is None else b.block_keys,
                        threshold=threshold, blocking=blocking, workers=workers,
                        progress=progress, top_k=top_k, recall=recall,
                        max_block_pairs=max_block_pairs,
                        oversized=oversized, exact_pairs=exact_pairs, seed=seed)


def run_blocking(a: Encodings, b: Encodings | None, keys_a: Mapping, keys_b: Mapping | None, *,
                 threshold: float, blocking, workers, progress: bool, top_k: int | None,
                 recall: float, max_block_pairs, oversized: str, exact_pairs: int,
                 seed: int) -> tuple[Candidates, BlockingReport]:
    """:func:`candidates` with the blocking keys given apart (Python strings or Arrow arrays)."""
    t = check_threshold(threshold)
    check_top_k(top_k)
    method = check_method(blocking)
    n_workers = resolve_workers(workers)
    recall = check_recall(recall)
    if oversized not in OVERSIZED_RULES:
        raise ValueError(f"oversized must be one of {OVERSIZED_RULES}, got {oversized!r}")
    if isinstance(exact_pairs, bool) or not isinstance(exact_pairs, int) or exact_pairs < 0:
        raise ValueError(f"exact_pairs must be a non-negative integer, got {exact_pairs!r}")
    start = time.perf_counter()
    names = shared_key_names(keys_a, keys_b)
    if method.startswith("signatures") and not names:
        raise DataError(_no_keys(keys_a, keys_b, method))
    method, reason, plan = _choose(a, b, names, t, method, exact_pairs, recall, seed, n_workers)
    report = BlockingReport(method=method, reason=reason, threshold=t, n_left=len(a),
                            n_right=None if b is None else len(b), lsh=plan)
    job = _Job(a, b, t, top_k, n_workers, progress, report)
    if method == "none":
        cands = job.all_pairs()
    elif method == "lsh":
        cands = job.lsh(plan)
    else:
        sb = signature_blocks(keys_a, keys_b, n_left=len(a), n_right=None if b is None else len(b),
                              names=names, max_block_pairs=max_block_pairs,
                              # Global LSH covers every pair a split of oversized blocks would.
                              oversized="drop" if method == "signatures+lsh" else oversized)
        cands = (job.signatures(sb, recall, seed) if method == "signatures"
                 else job.signatures_and_lsh(sb, plan))
    report.candidates = len(cands)
    report.seconds = time.perf_counter() - start
    logger.debug("block: %s", report)
    return cands, report


def _choose(a, b, names, t, method, exact_pairs, recall, seed, workers):
    """(method, reason, LSH plan or None)."""
    n_pairs = total_pairs(len(a), None if b is None else len(b))
    if method == "none":
        return "none", "requested", None
    if method == "signatures":
        return "signatures", "requested", None
    if method in ("lsh", "signatures+lsh"):
        if t <= 0.0:
            raise ValueError(f"blocking={method!r} needs a threshold above 0 (every pair scores "
                             ">= 0)")
        return method, "requested", plan_lsh(a, b, threshold=t, recall=recall, seed=seed,
                                             workers=workers)
    if t <= 0.0:
        return "none", "threshold 0 keeps every pair", None
    if n_pairs <= exact_pairs:
        return "none", f"{n_pairs:,} pairs <= {exact_pairs:,}: all pairs are cheap", None
    if names:
        return "signatures", f"both sides carry blocking keys {names}", None
    plan = plan_lsh(a, b, threshold=t, recall=recall, seed=seed, workers=workers)
    if plan.est_seconds >= plan.exhaustive_seconds:
        return "none", (f"no blocking keys, and LSH at threshold {t:g} would cost more than all "
                        f"pairs (est. {plan.est_seconds:.3g} s vs {plan.exhaustive_seconds:.3g} s)"
                        ), plan
    return "lsh", (f"no blocking keys; LSH est. {plan.est_seconds:.3g} s vs all pairs "
                   f"{plan.exhaustive_seconds:.3g} s"), plan


def _no_keys(keys_a: Mapping, keys_b: Mapping | None, method: str) -> str:
    have = f"a has {sorted(keys_a)}" + ("" if keys_b is None else f", b has {sorted(keys_b)}")
    return (f"blocking={method!r} needs blocking keys shared by both sides ({have}); encode "
            "with a schema that declares `blocking`, or use blocking='lsh'")


@dataclass
class _Job:
    """One blocking run: the inputs every method needs and the report it fills."""

    a: Encodings
    b: Encodings | None
    threshold: float
    top_k: int | None
    workers: int
    progress: bool
    report: BlockingReport

    def all_pairs(self) -> Candidates:
        self.report.comparisons = self.report.total_pairs
        self.report.estimated_pair_completeness = 1.0
        return dice(self.a, self.b, threshold=self.threshold, top_k=self.top_k,
                    workers=self.workers, progress=self.progress)

    def lsh(self, plan: LshPlan) -> Candidates:
        run = self._lsh_run(plan)
        self._estimate_completeness(run, plan)
        return self._finish(run.left, run.right)

    def signatures(self, sb: SignatureBlocks, recall: float, seed: int) -> Candidates:
        self._describe(sb)
        if sb.split_left is None:
            return dice_blocks(self.a, self.b, sb.blocks, threshold=self.threshold,
                               top_k=self.top_k, workers=self.workers, progress=self.progress)
        found = self._blocked(sb)
        plan = plan_lsh(self.a, self.b, threshold=self.threshold, recall=recall, seed=seed,
                        workers=self.workers)
        self.report.lsh = plan
        run = self._lsh_run(plan, left=sb.split_left, right=sb.split_right)
        return self._finish(np.concatenate([found.left, run.left]),
                            np.concatenate([found.right, run.right]))

    def signatures_and_lsh(self, sb: SignatureBlocks, plan: LshPlan) -> Candidates:
        self._describe(sb)
        found = self._blocked(sb)
        run = self._lsh_run(plan)
        return self._finish(np.concatenate([found.left, run.left]),
                            np.concatenate([found.right, run.right]))

    def _blocked(self, sb: SignatureBlocks) -> Candidates:
        return dice_blocks(self.a, self.b, sb.blocks, threshold=self.threshold,
                           workers=self.workers, progress=self.progress, fields=False)

    def _lsh_run(self, plan: LshPlan, left=None, right=None) -> LshRun:
        run = lsh_pairs(self.a, self.b, plan.params, self.threshold, left=left, right=right,
                        workers=self.workers, progress=self.progress)
        self.report.comparisons += run.collisions
        self.report.guaranteed_recall = plan.guaranteed_recall
        if left is None:  # a run over every record: its band groups join the block report
            report = self.report
            report.size_histogram = run.histogram + (0 if report.size_histogram is None
                                                     else report.size_histogram)
            groups = report.largest_blocks + [(f"band {k}", nl, nr) for k, nl, nr in run.largest]
            report.largest_blocks = sorted(groups, key=lambda g: -g[1] * g[2])[:10]
        return run

    def _finish(self, left: np.ndarray, right: np.ndarray) -> Candidates:
        return finish(self.a, self.b, left, right, self.threshold, self.workers, self.progress,
                      self.top_k)

    def _describe(self, sb: SignatureBlocks) -> None:
        """Passes, comparisons, oversized blocks, size histogram and the largest blocks."""
        report, dedup = self.report, self.b is None
        report.passes = sb.passes
        report.comparisons += sb.comparisons()
        report.oversized = sum(p.oversized for p in sb.passes)
        report.oversized_rule = sb.rule if report.oversized else None
        sizes = sb.sizes
        pairs = sizes[:, 1] * (sizes[:, 1] - 1) // 2 if dedup else sizes[:, 1] * sizes[:, 2]
        report.size_histogram = pairs_histogram(pairs)
        top = np.argsort(-pairs, kind="stable")[:10]
        report.largest_blocks = [(sb.passes[sizes[k, 0]].name, int(sizes[k, 1]),
                                  int(sizes[k, 1] if dedup else sizes[k, 2])) for k in top]

    def _estimate_completeness(self, run: LshRun, plan: LshPlan) -> None:
        """Horvitz-Thompson: each found pair stands for 1 / (its chance of being found) pairs."""
        other = self.a if self.b is None else self.b
        score = score_pairs(self.a, other, run.left, run.right, workers=self.workers)
        pop_sum = self.a.popcounts[run.left].astype(np.int64) + other.popcounts[run.right]
        prob = plan.params.find_probability(score, pop_sum, plan.universe)
        weight = float(np.sum(1.0 / np.maximum(prob, 1e-300)))
        self.report.estimated_pair_completeness = len(score) / weight if len(score) else 1.0


def finish(a: Encodings, b: Encodings | None, left: np.ndarray, right: np.ndarray,
           threshold: float, workers: int, progress: bool = False,
           top_k: int | None = None) -> Candidates:
    """Candidates of the given pairs (repeats allowed), scored by :func:`pprl.compare.dice_blocks`.

    Each left row becomes one block with its partners, so compare scores exactly these pairs and
    adds ids and field scores. Deduplication pairs must be ``left < right``.
    """
    other = a if b is None else b
    width = max(len(other), 1)
    codes = np.unique(np.asarray(left, np.int64) * width + np.asarray(right, np.int64))
    rows, cols = codes // width, codes % width
    heads = np.flatnonzero(np.r_[True, rows[1:] != rows[:-1]]) if len(rows) else np.empty(0, int)
    blocks = Blocks(np.arange(len(heads) + 1), rows[heads], np.r_[heads, len(rows)], cols)
    return dice_blocks(a, other, blocks, threshold=threshold, top_k=top_k, workers=workers,
                       progress=progress)
