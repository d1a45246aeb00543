"""``pprl.block.candidates``: method choice, exact semantics of the candidates, report, errors."""

from __future__ import annotations

import json

import numpy as np
import pytest

import pprl
from pprl.block import candidates, candidates_from_files, evaluate, plan_lsh, plot

from .conftest import noisy_copies, pair_set, strip_keys


def same_candidates(x: pprl.Candidates, y: pprl.Candidates) -> None:
    assert x.left.tolist() == y.left.tolist() and x.right.tolist() == y.right.tolist()
    assert x.score.tolist() == y.score.tolist()
    assert x.threshold == y.threshold and x.field_names == y.field_names
    assert np.asarray(x.left_ids).tolist() == np.asarray(y.left_ids).tolist()
    assert np.asarray(x.right_ids).tolist() == np.asarray(y.right_ids).tolist()
    if x.field_scores is None:
        assert y.field_scores is None
    else:
        np.testing.assert_array_equal(x.field_scores, y.field_scores)


@pytest.mark.parametrize("dedup", [False, True])
def test_none_is_compare_dice(extracts, dedup):
    a, b, _ = extracts
    other = None if dedup else b
    cands, report = candidates(a, other, threshold=0.7, blocking=None)
    same_candidates(cands, pprl.compare.dice(a, other, threshold=0.7))
    assert report.method == "none" and report.reduction_ratio == 0.0
    assert report.comparisons == report.total_pairs == (len(a) * (len(a) - 1) // 2 if dedup
                                                        else len(a) * len(b))


@pytest.mark.parametrize("method", ["signatures", "lsh", "signatures+lsh"])
@pytest.mark.parametrize("dedup", [False, True])
def test_blocked_candidates_are_exact_subsets(extracts, method, dedup):
    """Same scores, ids, field scores and order as compare.dice, for the pairs found."""
    a, b, _ = extracts
    other = None if dedup else b
    cands, report = candidates(a, other, threshold=0.75, blocking=method)
    exact = pprl.compare.dice(a, other, threshold=0.75)
    found = pair_set(cands)
    assert found <= pair_set(exact)
    keep = np.array([(i, j) in found for i, j in zip(exact.left, exact.right, strict=True)],
                    dtype=bool)
    same_candidates(cands, exact.select(keep))
    assert report.method == method and report.candidates == len(cands)
    assert 0.0 < report.reduction_ratio < 1.0
    if dedup:
        assert np.all(cands.left < cands.right)


def test_recall_on_generated_extracts(extracts):
    """Both blockers keep >= 98 % of the true pairs above the threshold on 1,200 x 1,200."""
    a, b, truth = extracts
    for method in ("signatures", "lsh"):
        cands, report = candidates(a, b, threshold=0.8, blocking=method)
        ev = evaluate(cands, truth, a=a, b=b, report=report)
        assert ev.pair_completeness >= 0.98, (method, ev)
        assert report.pair_completeness == ev.pair_completeness
    assert report.estimated_pair_completeness > 0.98
    assert report.guaranteed_recall >= 0.99
    lsh_comparisons = report.comparisons
    both, report = candidates(a, b, threshold=0.8, blocking="signatures+lsh")
    sig = pair_set(candidates(a, b, threshold=0.8, blocking="signatures")[0])
    assert pair_set(both) == sig | pair_set(cands)
    assert report.comparisons == sum(p.comparisons for p in report.passes) + lsh_comparisons


def test_auto_choices(extracts, rng, monkeypatch):
    a, b, _ = extracts
    _, report = candidates(a, b, threshold=0.8)
    assert report.method == "none" and "all pairs are cheap" in report.reason
    _, report = candidates(a, b, threshold=0.8, exact_pairs=1000)
    assert report.method == "signatures" and "blocking keys" in report.reason
    # 1.4 million pairs: LSH's per-band work costs more than scoring them all.
    _, report = candidates(strip_keys(a), strip_keys(b), threshold=0.8, exact_pairs=1000)
    assert report.method == "none" and "cost more than all pairs" in report.reason
    assert report.lsh.est_seconds >= report.lsh.exhaustive_seconds
    # Where all pairs are expensive (here: made so), auto takes LSH.
    monkeypatch.setattr(pprl.block.lsh, "COST_EXHAUSTIVE", 1e-3)
    _, report = candidates(strip_keys(a), strip_keys(b), threshold=0.8, exact_pairs=1000)
    assert report.method == "lsh" and report.lsh.est_seconds < report.lsh.exhaustive_seconds
    _, report = candidates(a, b, threshold=0.0, exact_pairs=0)
    assert report.method == "none" and "threshold 0" in report.reason


def test_lsh_does_not_pay_at_low_thresholds_on_dense_filters(rng):
    """Density 0.6: at Dice 0.7 LSH would compare most pairs anyway; at 0.9 few of them."""
    x, y = noisy_copies(rng, 2000, nbits=512, density=0.6, flip=0.3)
    low = plan_lsh(x, y, threshold=0.7)
    high = plan_lsh(x, y, threshold=0.9)
    assert low.est_collisions > 2000 * 2000 / 2 and low.est_seconds > low.exhaustive_seconds
    assert high.est_collisions < 2000 * 2000 / 10
    _, report = candidates(x, y, threshold=0.7, exact_pairs=0)
    assert report.method == "none" and "cost more than all pairs" in report.reason


def test_report_summary_and_dict(extracts):
    a, b, _ = extracts
    _, report = candidates(strip_keys(a), strip_keys(b), threshold=0.8, blocking="lsh")
    line = str(report)
    assert "\n" not in line and line.startswith("blocking=lsh (requested)")
    for text in ("comparisons", "reduction ratio", "recall at threshold", "est. pair completeness"):
        assert text in line
    doc = json.loads(json.dumps(report.to_dict()))
    assert doc["method"] == "lsh" and doc["lsh"]["bands"] == report.lsh.params.bands
    assert sum(doc["size_histogram"].values()) == int(report.size_histogram.sum())
    _, report = candidates(a, b, threshold=0.8, blocking="signatures")
    doc = json.loads(json.dumps(report.to_dict()))
    assert [p["name"] for p in doc["passes"]] == sorted(a.block_keys)
    assert doc["comparisons"] == sum(p["comparisons"] for p in doc["passes"])


def test_plot_returns_figure(extracts):
    a, b, _ = extracts
    for method in ("signatures", "lsh", "none"):
        _, report = candidates(a, b, threshold=0.8, blocking=method)
        fig = plot(report)
        assert type(fig).__name__ == "Figure" and len(fig.axes) == 2
        assert method in fig._suptitle.get_text()


def test_evaluate_known_answer(rng):
    a, b = noisy_copies(rng, 6, flip=0.0)
    a = pprl.Encodings(a.bits, [f"a{i}" for i in range(6)], a.nbits)
    b = pprl.Encodings(b.bits, [f"b{i}" for i in range(6)], b.nbits)
    cands = pprl.compare.dice(a, b, threshold=0.99).select(np.array([0, 1, 2]))
    truth = ([f"a{i}" for i in range(4)], [f"b{i}" for i in range(4)])
    ev = evaluate(cands, truth)
    assert (ev.true_pairs, ev.found, ev.pair_completeness, ev.pairs_quality) == (4, 3, 0.75, 1.0)
    ev = evaluate(cands, truth, a=a, b=b)
    assert ev.true_pairs_above == 4 and ev.pair_completeness == 0.75
    with pytest.raises(pprl.errors.DataError, match="truth column 'right_id', row 1: id 'zz'"):
        evaluate(cands, (["a0", "a1"], ["b0", "zz"]))


def test_candidates_from_files_equal_in_memory(extracts, tmp_path):
    a, b, _ = extracts
    a.write(tmp_path / "a.parquet", row_group_size=500)
    b.write(tmp_path / "b.parquet", row_group_size=500)
    results = {}
    for method in ("signatures", "lsh", "none"):
        results[method] = streamed, r1 = candidates_from_files(tmp_path / "a.parquet", tmp_path / "b.parquet",
                                             threshold=0.8, blocking=method, batch_rows=300)
        in_memory, r2 = candidates(a, b, threshold=0.8, blocking=method)
        same_candidates(streamed, in_memory)
        assert r1.comparisons == r2.comparisons
    dedup, _ = candidates_from_files(tmp_path / "a.parquet", threshold=0.8, blocking="signatures")
    same_candidates(dedup, candidates(a, None, threshold=0.8, blocking="signatures")[0])
    plain, _ = candidates_from_files(tmp_path / "a.parquet", tmp_path / "b.parquet",
                                     threshold=0.8, blocking="lsh", fields=False)
    assert plain.field_scores is None and pair_set(plain) == pair_set(results["lsh"][0])


@pytest.mark.parametrize("method", ["auto", "none", "lsh", "signatures"])
def test_empty_and_tiny_sides(extracts, method):
    a, b, _ = extracts
    none, one = np.arange(0), np.arange(1)
    for left, right in ((a.take(none), b), (a, b.take(none)), (a.take(one), None), (a.take(none), None)):
        cands, report = candidates(left, right, threshold=0.8, blocking=method, exact_pairs=0)
        assert len(cands) == 0 and report.candidates == 0


@pytest.mark.parametrize("kwargs,error,match", [
    ({"blocking": "canopy"}, ValueError, "blocking must be one of"),
    ({"threshold": 1.5}, ValueError, "threshold must be in"),
    ({"threshold": "0.8"}, TypeError, "threshold must be a number"),
    ({"workers": 0}, ValueError, "workers must be a positive integer"),
    ({"recall": 1.0}, ValueError, "recall must be a number in"),
    ({"oversized": "keep"}, ValueError, "oversized must be one of"),
    ({"exact_pairs": -1}, ValueError, "exact_pairs must be a non-negative integer"),
    ({"blocking": "lsh", "threshold": 0.0}, ValueError, "needs a threshold above 0"),
])
def test_bad_arguments(rng, kwargs, error, match):
    a, b = noisy_copies(rng, 5)
    args = {"threshold": 0.8} | kwargs
    with pytest.raises(error, match=match):
        candidates(a, b, **args)


def test_bad_encodings(rng):
    a, _ = noisy_copies(rng, 5, nbits=64)
    _, b = noisy_copies(rng, 5, nbits=128)
    with pytest.raises(TypeError, match=r"b must be pprl\.Encodings"):
        candidates(a, [1, 2], threshold=0.8)
    with pytest.raises(pprl.errors.IncompatibleEncodingsError, match="different lengths"):
        candidates(a, b, threshold=0.8)


@pytest.mark.parametrize("method", ["none", "signatures", "lsh"])
def test_top_k_among_found_pairs(extracts, method):
    a, b, _ = extracts
    full, _ = candidates(a, b, threshold=0.5, blocking=method)
    best, _ = candidates(a, b, threshold=0.5, blocking=method, top_k=1)
    assert np.bincount(best.left).max() == 1
    top = {}
    for i, j, s in zip(full.left.tolist(), full.right.tolist(), full.score.tolist(), strict=True):
        top.setdefault(i, (j, s))  # sorted by score desc, then right: the first is the best
    assert pair_set(best) == {(i, j) for i, (j, _) in top.items()}
    if method == "none":
        same_candidates(best, pprl.compare.dice(a, b, threshold=0.5, top_k=1))


def test_missing_keys_named_from_files(extracts, tmp_path):
    a, b, _ = extracts
    a.write(tmp_path / "a.parquet")
    strip_keys(b).write(tmp_path / "b.parquet")
    with pytest.raises(pprl.errors.DataError, match=r"a has \['first_initial_dob', .*\], b has \[\]"):
        candidates_from_files(tmp_path / "a.parquet", tmp_path / "b.parquet", threshold=0.8,
                              blocking="signatures")
    _, report = candidates_from_files(tmp_path / "a.parquet", tmp_path / "b.parquet",
                                      threshold=0.8, exact_pairs=0)
    assert report.method == "none" and "cost more than all pairs" in report.reason
