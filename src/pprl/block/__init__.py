"""pprl.block: compare only the pairs that can match, without exposing PII.

>>> cands, report = pprl.block.candidates(a, b, threshold=0.8)     # doctest: +SKIP
>>> print(report)      # which method, why, comparisons, reduction ratio, recall estimate

Three ways to shrink the n x m comparison space; :func:`candidates` picks one (``blocking="auto"``):

- **none** - all pairs with the multi-threaded :func:`pprl.compare.dice` (exact): chosen when
  there are at most ``EXACT_PAIRS`` (2e9, ~10 s) pairs, or when nothing else would be cheaper.
- **signatures** - keyed blocking keys computed by the encode stage from the PII and HMAC-ed
  (P-Sig style, declared in the schema's ``blocking``), one pass per key, passes unioned,
  oversized blocks split by LSH or dropped (:mod:`pprl.block.signatures`).
- **lsh** - CLK-only MinHash or Hamming bit-sampling LSH with parameters chosen from the threshold
  and the bit density so that a pair at the threshold is found with probability >= ``recall``,
  and an estimate of the pair completeness given up (:mod:`pprl.block.lsh`).

Every method returns exactly the :class:`pprl.Candidates` that :func:`pprl.compare.dice` would
return, restricted to the pairs it compared. :func:`evaluate` measures pair completeness against
a known truth; :func:`plot` draws the block-size distribution; :func:`candidates_from_files`
streams the encodings from Parquet.
"""

from ._api import EXACT_PAIRS, METHODS, candidates, finish
from .lsh import DEFAULT_SEED, LshParams, LshPlan, LshRun, Members, lsh_pairs, plan_lsh
from .report import BlockingReport, Evaluation, evaluate, plot
from .signatures import (
    PassStats,
    SignatureBlocks,
    default_max_block_pairs,
    key_codes,
    signature_blocks,
)
from .stream import candidates_from_files, read_side

__all__ = [
    "DEFAULT_SEED",
    "EXACT_PAIRS",
    "METHODS",
    "BlockingReport",
    "Evaluation",
    "LshParams",
    "LshPlan",
    "LshRun",
    "Members",
    "PassStats",
    "SignatureBlocks",
    "candidates",
    "candidates_from_files",
    "default_max_block_pairs",
    "evaluate",
    "finish",
    "key_codes",
    "lsh_pairs",
    "plan_lsh",
    "plot",
    "read_side",
    "signature_blocks",
]
