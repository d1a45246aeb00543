"""``audit``: run the attack lab against a set of encodings and give a verdict.

The audit needs what an attacker would have: the encodings (bits, field filters; never the
secret) and a plaintext reference population. With the schema (public by design) the attacks
tokenise exactly as the encoder did and know the bits per token, as a careful attacker would.
With the true plaintext of the encodings (an agency auditing its own data) correct and wrong
guesses are counted; without it the share of confident 1-1 guesses is the risk, an upper bound
of the correct ones.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

from .._log import logger
from ..encode.schema import Schema
from ..encodings import Encodings
from ..errors import DataError
from ..io import read_table
from ._data import Reference, align_truth
from ._result import AttackResult
from .frequency import block_key_frequency, frequency
from .graph import graph_matching
from .pattern import pattern_mining

ATTACKS = ("frequency", "pattern_mining", "graph_matching")
DEFAULT_THRESHOLD = 0.01


@dataclass
class AuditReport:
    """The attacks run, the ones skipped (with the reason) and the verdict: ``passed`` when no
    attack re-identifies more than ``threshold`` of the encodings 1-1 (``str(report)`` prints
    the table and the verdict)."""

    n: int
    nbits: int
    reference: str
    results: list[AttackResult]
    skipped: list[tuple[str, str, str]] = field(default_factory=list)
    threshold: float = DEFAULT_THRESHOLD
    evaluated: bool = False

    @property
    def worst(self) -> AttackResult | None:
        rows = [r for res in self.results for r in (res, *res.parts)]
        return max(rows, key=lambda r: r.risk, default=None)

    @property
    def passed(self) -> bool:
        worst = self.worst
        return worst is None or worst.risk <= self.threshold

    def to_frame(self) -> pd.DataFrame:
        """One row per attack and target (joint results and each attribute's)."""
        rows = [r.as_dict() for res in self.results for r in (res, *res.parts)]
        return pd.DataFrame(rows)

    def __str__(self) -> str:
        lines = [f"pprl audit: {self.n} encodings of {self.nbits} bits against {self.reference}"]
        head = ("correct 1-1", "correct 1-m", "wrong") if self.evaluated else \
            ("1-1 guesses", "1-m guesses", "no guess")
        lines.append(f"{'attack':<16}{'source':<20}{'target':<26}"
                     f"{head[0]:>12}{head[1]:>13}{head[2]:>10}")
        for res in self.results:
            for r in (res, *res.parts):
                if self.evaluated:
                    cells = (r.rate("correct_one_to_one"), r.rate("correct_one_to_many"),
                             r.rate("wrong"))
                else:
                    cells = (r.rate("one_to_one"), r.rate("one_to_many"), r.rate("no_guess"))
                lines.append(f"{r.attack:<16}{r.source:<20}{'+'.join(r.target):<26}"
                             f"{cells[0]:>12.2%}{cells[1]:>13.2%}{cells[2]:>10.2%}")
        for attack, source, reason in self.skipped:
            lines.append(f"{attack:<16}{source:<20}skipped: {reason}")
        worst = self.worst
        what = "re-identifies" if self.evaluated else "makes 1-1 guesses for"
        if worst is None:
            lines.append("verdict: PASS (no attack applies to these encodings and reference)")
        elif self.passed:
            lines.append(f"verdict: PASS - no attack {what} more than {self.threshold:.1%} of the "
                         f"encodings (worst: {worst.attack} on {worst.source}, {worst.risk:.2%})")
        else:
            lines.append(f"verdict: AT RISK - {worst.attack} on {worst.source} "
                         f"({'+'.join(worst.target)}) {what} {worst.risk:.2%} of the encodings "
                         f"(threshold {self.threshold:.1%}); harden the encodings "
                         "(schema.with_hardening('recommended'))")
        if not self.evaluated:
            lines.append("(without the true values a 1-1 guess may be wrong: the rates are upper "
                         "bounds of the re-identifications)")
        return "\n".join(lines)


def audit(encodings: Encodings, reference: Reference | pd.DataFrame | str | os.PathLike, *,
          schema: Schema | None = None, truth: pd.DataFrame | None = None,
          attacks: Sequence[str] = ATTACKS, threshold: float = DEFAULT_THRESHOLD,
          max_nodes: int = 2000) -> AuditReport:
    """Run the attack lab against ``encodings`` with the attacker's ``reference`` population.

    Every reference attribute with a field filter in the encodings is attacked there (frequency,
    pattern mining, graph matching); the record filters are attacked by pattern mining on every
    reference attribute the schema hashes (all of them without a schema), by the frequency
    attack, and by graph matching when the schema shows the record filters encode exactly
    reference attributes; each shipped blocking key whose parts the reference has is attacked
    by frequency (this needs the schema).

    Args:
        encodings: the encodings to audit.
        reference: plaintext population: a :class:`~pprl.attack.Reference`, a DataFrame or a
            CSV/Parquet path; columns named like the schema's features plus an optional
            ``count``.
        schema: the schema the encodings were made with (public; makes the attacks stronger).
        truth: the true values of the encodings, rows aligned with them (see
            :func:`audit_files` for a file matched by id).
        attacks: which attacks to run.
        threshold: the largest acceptable 1-1 re-identification rate.
        max_nodes: graph size of the graph-matching attack.
    """
    unknown = [a for a in attacks if a not in ATTACKS]
    if unknown:
        raise ValueError(f"unknown attack {unknown[0]!r}; expected some of {ATTACKS}")
    if not 0.0 <= float(threshold) <= 1.0:
        raise ValueError(f"threshold must be in [0, 1], got {threshold}")
    ref = Reference.coerce(reference)
    if schema is not None and schema.fingerprint and encodings.fingerprint and \
            schema.fingerprint != encodings.fingerprint:
        raise DataError(f"the schema (fingerprint {schema.fingerprint[:12]}…) is not the one the "
                        f"encodings were made with ({encodings.fingerprint[:12]}…)")
    results: list[AttackResult] = []
    skipped: list[tuple[str, str, str]] = []
    common = {"schema": schema, "truth": truth}
    for name in ref.attributes:
        if name not in encodings.fields:
            continue
        for attack in attacks:
            results.append(_run(attack, encodings, ref, name, [name], max_nodes, common))
            logger.info("audit: %s", results[-1])
    clk_attrs = _clk_attributes(ref, schema)
    if clk_attrs:
        for attack in attacks:
            if attack == "graph_matching" and not _clk_is(schema, clk_attrs):
                skipped.append((attack, "clk", "the record filters encode attributes the "
                                "reference lacks" if schema is not None else
                                "needs the schema to know what the record filters encode"))
                continue
            results.append(_run(attack, encodings, ref, None, clk_attrs, max_nodes, common))
            logger.info("audit: %s", results[-1])
    else:
        skipped.append(("all", "clk", "the schema hashes none of the reference's attributes"))
    if "frequency" in attacks:
        _block_keys(encodings, ref, schema, truth, results, skipped)
    return AuditReport(len(encodings), encodings.nbits, str(ref), results, skipped,
                       float(threshold), truth is not None)


def _block_keys(encodings: Encodings, ref: Reference, schema: Schema | None,
                truth: pd.DataFrame | None, results: list, skipped: list) -> None:
    """The frequency attack on every shipped blocking key whose parts the reference has."""
    for name in encodings.block_keys:
        source = f"block:{name}"
        bk = next((b for b in schema.blocking if b.name == name), None) if schema else None
        if bk is None:
            skipped.append(("frequency", source, "needs the schema (the key's definition)"))
            continue
        lacking = [p.feature for p in bk.parts if p.feature not in ref.attributes]
        if lacking:
            skipped.append(("frequency", source, f"the reference has no {lacking[0]!r}"))
            continue
        results.append(block_key_frequency(encodings, ref, name, schema=schema, truth=truth))
        logger.info("audit: %s", results[-1])


def _run(attack: str, encodings: Encodings, ref: Reference, field_name: str | None,
         target: list[str], max_nodes: int, common: dict) -> AttackResult:
    if attack == "frequency":
        return frequency(encodings, ref, field=field_name, target=target, **common)
    if attack == "pattern_mining":
        return pattern_mining(encodings, ref, field=field_name, target=target, **common)
    return graph_matching(encodings, ref, field=field_name, target=target, max_nodes=max_nodes,
                          **common)


def _clk_attributes(ref: Reference, schema: Schema | None) -> list[str]:
    if schema is None:
        return list(ref.attributes)
    in_clk = {f.name for f in schema.hashed_features if f.clk is not None or
              (schema.encoding_type == "rbf" and f.weight > 0)}
    return [a for a in ref.attributes if a in in_clk]


def _clk_is(schema: Schema | None, attrs: list[str]) -> bool:
    """Whether the record filters encode exactly ``attrs`` (known only with the schema)."""
    if schema is None:
        return False
    in_clk = {f.name for f in schema.hashed_features if f.clk is not None or
              (schema.encoding_type == "rbf" and f.weight > 0)}
    return in_clk == set(attrs)


def audit_files(encodings: str | os.PathLike, reference: str | os.PathLike, *,
                schema: str | os.PathLike | None = None, truth: str | os.PathLike | None = None,
                truth_id_column: str = "id", attacks: Sequence[str] = ATTACKS,
                threshold: float = DEFAULT_THRESHOLD, max_nodes: int = 2000) -> AuditReport:
    """:func:`audit` from files: encodings (Parquet from ``pprl encode``), the reference CSV, the
    schema file (optional) and the true plaintext (optional CSV/Parquet whose
    ``truth_id_column`` holds the encodings' ids)."""
    enc = Encodings.read(encodings)
    sch = Schema.load(schema) if schema is not None else None
    plain = None
    if truth is not None:
        plain = align_truth(enc, read_table(truth), truth_id_column)
    return audit(enc, Reference.read(reference), schema=sch, truth=plain, attacks=attacks,
                 threshold=threshold, max_nodes=max_nodes)
