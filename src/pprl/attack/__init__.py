"""pprl.attack: the attack lab. Test your own encodings against published attacks.

Bloom-filter encodings without hardening are re-identified by cryptanalysis. This package runs
the attacks of the literature against a set of :class:`pprl.Encodings` and a plaintext reference
population (a public name list, a voter register, :func:`pprl.datasets.population`):

- :func:`frequency` - equal values give equal encodings: align the most frequent encodings with
  the most frequent values (Kuzu et al. 2011; Christen et al. 2017); :func:`block_key_frequency`
  does the same with keyed blocking keys.
- :func:`pattern_mining` - bit positions that are set together in as many encodings as a q-gram
  is frequent are that q-gram's; then values are rebuilt from the q-grams identified (Christen,
  Vidanage, Ranbaduge and Schnell 2017/2018).
- :func:`graph_matching` - align the similarity graph of the encodings with the similarity graph
  of the plaintext values (Vidanage et al. 2020).
- :func:`audit` / :func:`audit_files` - all of them on your encodings, with a verdict
  (``pprl audit ENCODINGS --reference NAMES.csv``).

Each attack reports, per encoding, correct 1-to-1 re-identifications, correct 1-to-many (the
true value among 2 to 10 candidates) and wrong guesses, as the literature does.

The attack lab is a sibling of the stages, not one of them: it plays the attacker, who sees
encodings and public plaintext but never the secret, so it never touches a :class:`pprl.Secret`.
Per the architecture the disclosure package never sees encodings; this package exists to look at
them the way an adversary would. Hardening options are in :mod:`pprl.encode.hardening`.

The reference file (CSV or Parquet, cells read as text): one column per attribute, named like the
schema's features (``first_name``, ``last_name``, ``dob``...), and an optional ``count`` column
with how many people each row stands for (default 1). A name-frequency list is ``first_name,count``
rows; a population sample is one row per person.
"""

from ._data import Reference, align_truth, attacker_view
from ._result import MAX_MANY, AttackResult
from .audit import ATTACKS, AuditReport, audit, audit_files
from .frequency import block_key_frequency, frequency
from .graph import graph_matching
from .pattern import PatternMiner, pattern_mining

__all__ = [
    "ATTACKS",
    "MAX_MANY",
    "AttackResult",
    "AuditReport",
    "PatternMiner",
    "Reference",
    "align_truth",
    "attacker_view",
    "audit",
    "audit_files",
    "block_key_frequency",
    "frequency",
    "graph_matching",
    "pattern_mining",
]
