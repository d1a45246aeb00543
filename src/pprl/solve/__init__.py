"""pprl.solve: turn scored candidate pairs into decisions.

- :func:`greedy` / :func:`optimal`: one-to-one links of two parties (anonlink's greedy solver;
  maximum-weight matching).
- :func:`choose_threshold`: the threshold from the score distribution alone (no ground truth), with
  estimated precision and recall; ``threshold="auto"`` everywhere uses it.
- :func:`link`: the whole two-party decision (candidates or encodings -> links), field-aware
  Fellegi–Sunter scoring where it is expected to beat plain Dice.
- :func:`clusters` (N datasets) and :func:`deduplicate` (one dataset): entities.
- :func:`stable_ids`: entity ids that persist across annual runs.
- :func:`evaluate`, :func:`pr_curve`, :func:`histogram`: quality against ground truth.
"""

from ._cluster import clusters, deduplicate, multiparty_labels
from ._evaluate import Evaluation, evaluate, histogram, pr_curve
from ._fs import FellegiSunter, fellegi_sunter
from ._greedy import greedy
from ._link import Decision, decide, link
from ._optimal import optimal
from ._stable import StableIdReport, stable_ids
from ._threshold import AUTO_CANDIDATE_THRESHOLD, AUTO_TOP_K, ThresholdChoice, choose_threshold

__all__ = [
    "AUTO_CANDIDATE_THRESHOLD",
    "AUTO_TOP_K",
    "Decision",
    "Evaluation",
    "FellegiSunter",
    "StableIdReport",
    "ThresholdChoice",
    "choose_threshold",
    "clusters",
    "decide",
    "deduplicate",
    "evaluate",
    "fellegi_sunter",
    "greedy",
    "histogram",
    "link",
    "multiparty_labels",
    "optimal",
    "pr_curve",
    "stable_ids",
]
