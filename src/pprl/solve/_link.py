"""``link``: the whole two-party decision, from candidates (or encodings) to one-to-one links."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit

from .._log import logger
from ..candidates import Candidates
from ..encodings import Encodings
from ..errors import DataError
from ._common import check_candidates, links_frame
from ._fs import U_SOURCES, FellegiSunter, fellegi_sunter
from ._greedy import greedy_mask
from ._optimal import optimal_mask
from ._threshold import (
    AUTO_CANDIDATE_THRESHOLD,
    AUTO_TOP_K,
    ThresholdChoice,
    _check_number,
    _fit_two_party,
    choose_threshold,
)

SCORINGS = ("auto", "dice", "fellegi-sunter")
SOLVERS = {"greedy": greedy_mask, "optimal": optimal_mask}


@dataclass(frozen=True)
class Decision:
    """How ``threshold="auto"`` decided: the candidates as scored, the threshold choice on that
    score, the scoring used ("dice" or "fellegi-sunter"), its model, and every option's estimate."""

    scored: Candidates
    choice: ThresholdChoice
    scoring: str
    model: FellegiSunter | None
    options: tuple[dict, ...]


def decide(candidates: Candidates, scoring: str = "auto") -> Decision:
    """Score and threshold two-party candidates without labels.

    The CLK Dice threshold model comes first (it also estimates the number of true matches). With
    per-field scores, Fellegi–Sunter models learnt from it are tried too, and the scoring with the
    best estimated F1 wins (``scoring="auto"``); ``"dice"``/``"fellegi-sunter"`` force one.
    """
    check_candidates(candidates)
    if scoring not in SCORINGS:
        raise ValueError(f"scoring must be one of {SCORINGS}, got {scoring!r}")
    has_fields = candidates.field_scores is not None and len(candidates.field_names) > 0
    if scoring == "fellegi-sunter" and not has_fields:
        raise DataError("scoring='fellegi-sunter' needs per-field scores: encode with field "
                        "filters (pprl's native schemas) and compare with fields=True")
    fit = _fit_two_party(candidates, None) if len(candidates) else None
    dice_choice = fit.choice("one-to-one-tail") if fit else choose_threshold(candidates)
    options = [("dice", candidates, dice_choice, None)]
    if scoring != "dice" and has_fields and fit is not None:
        link = greedy_mask(candidates)
        p = np.zeros(len(candidates))
        p[link] = fit.link_probability(candidates.score[link])
        for u_from in U_SOURCES:
            model = fellegi_sunter(candidates, probabilities=p, u_from=u_from)
            scored = model.rescore(candidates)
            choice = choose_threshold(scored, dedup=False, matches=dice_choice.matches)
            options.append(("fellegi-sunter", scored, _as_probability(choice), model))
    pool = [o for o in options if scoring == "auto" or o[0] == scoring]
    best = max(pool, key=lambda o: (_finite(o[2].f1), o[0] == "dice"))
    summary = tuple({"scoring": o[0], "u_from": o[3].u_from if o[3] else None, **o[2].as_dict()}
                    for o in options)
    logger.debug("scoring %s%s chosen (estimated F1 %.4f)", best[0],
                f" (u from {best[3].u_from})" if best[3] else "", best[2].f1)
    return Decision(best[1], best[2], best[0], best[3], summary)


def _finite(x: float) -> float:
    return x if math.isfinite(x) else -1.0


def _as_probability(choice: ThresholdChoice) -> ThresholdChoice:
    """A log-odds threshold choice reported as a match probability threshold (the log-odds cut
    stays in ``diagnostics["score_threshold"]``)."""
    diag = {**choice.diagnostics, "score_threshold": choice.threshold}
    return dataclasses.replace(choice, threshold=float(expit(choice.threshold)),
                               method=f"fellegi-sunter/{choice.method}", diagnostics=diag)


def link(a: Candidates | Encodings, b: Encodings | None = None, *,
         threshold: float | str = "auto", solver: str = "greedy", scoring: str = "auto",
         candidate_threshold: float | None = None, top_k: int | None = None,
         workers: int | None = None) -> pd.DataFrame:
    """One-to-one links of two datasets: DataFrame ``left_id, right_id, score``.

    ``a`` is :class:`pprl.Candidates`, or the left :class:`pprl.Encodings` with ``b`` the right
    ones (compared here with :func:`pprl.compare.dice`: at ``candidate_threshold``/``top_k``,
    by default 0.5/10 for ``"auto"`` and the threshold itself, all pairs, for a number).

    ``threshold="auto"``: chosen without labels (:func:`decide`); the score is then CLK Dice or,
    where field-aware scoring is expected to do better, the Fellegi–Sunter match probability
    (extra columns ``dice`` and ``match_weight``). A number: links with Dice >= it.
    ``solver``: "greedy" (anonlink's) or "optimal" (maximum total score).
    ``links.attrs["threshold"]`` reports the threshold, scoring and estimated precision/recall.
    """
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {tuple(SOLVERS)}, got {solver!r}")
    auto = isinstance(threshold, str)
    if auto and threshold != "auto":
        raise ValueError(f"threshold must be a number or 'auto', got {threshold!r}")
    fixed = None if auto else _check_number(threshold)
    cands = _candidates(a, b, fixed, candidate_threshold, top_k, workers, scoring)
    if not auto:
        if scoring == "fellegi-sunter":
            raise ValueError("a numeric threshold is a Dice threshold; use threshold='auto' "
                             "with scoring='fellegi-sunter'")
        cut = cands.select(cands.score >= fixed)
        frame = links_frame(cut, SOLVERS[solver](cut))
        frame.attrs["threshold"] = {"threshold": fixed, "method": "fixed", "scoring": "dice",
                                    "solver": solver}
        return frame
    decision = decide(cands, scoring)
    scored, choice = decision.scored, decision.choice
    cut_at = choice.diagnostics.get("score_threshold", choice.threshold)
    cut = scored.select(scored.score >= cut_at)
    keep = SOLVERS[solver](cut)
    fs = decision.scoring == "fellegi-sunter"
    frame = _fs_frame(cut, keep, cands) if fs else links_frame(cut, keep)
    frame.attrs["threshold"] = {**choice.as_dict(), "scoring": decision.scoring,
                                "solver": solver, "options": list(decision.options)}
    return frame


def _candidates(a, b, fixed, candidate_threshold, top_k, workers, scoring) -> Candidates:
    if isinstance(a, Candidates):
        if b is not None:
            raise TypeError("link(candidates) takes no second dataset")
        return check_candidates(a)
    if not isinstance(a, Encodings) or not isinstance(b, Encodings):
        raise TypeError("link needs pprl.Candidates, or two pprl.Encodings "
                        f"(got {type(a).__name__} and {type(b).__name__})")
    from .. import compare

    low = candidate_threshold if candidate_threshold is not None else (
        AUTO_CANDIDATE_THRESHOLD if fixed is None else fixed)
    if fixed is not None and low > fixed:
        raise ValueError(f"candidate_threshold={low} is above threshold={fixed}")
    k = top_k if top_k is not None else (AUTO_TOP_K if fixed is None else None)
    fields = scoring != "dice" and fixed is None and bool(a.fields) and bool(b.fields)
    return compare.dice(a, b, threshold=low, top_k=k, workers=workers,
                        fields="auto" if fields else False)


def _fs_frame(scored: Candidates, keep: np.ndarray, original: Candidates) -> pd.DataFrame:
    """Links scored by match probability, with their CLK Dice and match weight (log-odds)."""
    n_right = int(max(original.right.max(initial=0), scored.right.max(initial=0))) + 1
    key = original.left * n_right + original.right
    order = np.argsort(key, kind="stable")
    pos = order[np.searchsorted(key[order], scored.left[keep] * n_right + scored.right[keep])]
    lid, rid = scored.ids()
    log_odds = scored.score[keep]
    return pd.DataFrame({"left_id": lid[keep], "right_id": rid[keep],
                         "score": expit(log_odds), "dice": original.score[pos],
                         "match_weight": log_odds}).reset_index(drop=True)
