"""pprl.compare: Dice similarity of Bloom-filter encodings, the hot loop of every linkage.

- :func:`dice` — every pair of two sets of encodings (or within one) with Dice >= a threshold,
  optionally only each record's best ``top_k``: the same pairs and scores as anonlink's
  ``find_candidate_pairs``.
- :func:`dice_blocks` — the same, restricted to pairs that share a block (:class:`Blocks`); the
  entry point of the blocking stage.
- :func:`score_pairs` — Dice of explicit pairs.

Scores are ``2·|a & b| / (|a| + |b|)`` in float64 (0.0 for two empty filters), computed with
vectorised AND-popcounts in numba kernels that release the GIL and run on ``workers`` threads.
When both encodings carry per-field filters, the candidates also hold each field's Dice
(``Candidates.field_scores``, float32, NaN where a field is empty on either side).
"""

from ._blocks import Blocks, dice_blocks
from ._dice import dice
from ._fields import score_pairs

__all__ = ["Blocks", "dice", "dice_blocks", "score_pairs"]
