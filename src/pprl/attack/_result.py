"""The outcome of an attack, in the literature's categories (Christen et al. 2017/2018)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MAX_MANY = 10  # a guess of 2..MAX_MANY candidate values is "1-to-many" (Christen et al.)


@dataclass
class AttackResult:
    """Per encoding, the attacker's candidate values for ``target`` and how they fare.

    ``guesses[i]`` is None (no guess) or a tuple of candidate values (each a tuple with one entry
    per target attribute). Counts, over the ``n`` attacked encodings: ``one_to_one`` (a single
    candidate), ``one_to_many`` (2 to ``max_many``), ``too_many`` (more: counted as no guess),
    ``no_guess``. With the truth: ``correct_one_to_one``, ``correct_one_to_many`` (the true value
    among the candidates) and ``wrong`` (a 1-1 or 1-m guess without the true value); None without.
    """

    attack: str
    source: str
    target: tuple[str, ...]
    guesses: np.ndarray
    too_many: np.ndarray
    max_many: int = MAX_MANY
    details: dict = field(default_factory=dict)
    seconds: float = 0.0
    correct_one_to_one: int | None = None
    correct_one_to_many: int | None = None
    wrong: int | None = None
    parts: list[AttackResult] = field(default_factory=list)

    @property
    def n(self) -> int:
        return len(self.guesses)

    def _sizes(self) -> np.ndarray:
        return np.fromiter((0 if g is None else len(g) for g in self.guesses), np.int64, self.n)

    @property
    def one_to_one(self) -> int:
        return int((self._sizes() == 1).sum())

    @property
    def one_to_many(self) -> int:
        return int((self._sizes() > 1).sum())

    @property
    def no_guess(self) -> int:
        return self.n - self.one_to_one - self.one_to_many

    @property
    def evaluated(self) -> bool:
        return self.correct_one_to_one is not None

    def evaluate(self, truth: np.ndarray | None) -> AttackResult:
        """Count correct and wrong guesses against the true values (tuples, None = unknown)."""
        if truth is None:
            return self
        c11 = c1m = wrong = 0
        for g, t in zip(self.guesses, truth, strict=True):
            if g is None:
                continue
            hit = t is not None and t in g
            if hit and len(g) == 1:
                c11 += 1
            elif hit:
                c1m += 1
            else:
                wrong += 1
        self.correct_one_to_one, self.correct_one_to_many, self.wrong = c11, c1m, wrong
        return self

    def rate(self, what: str) -> float:
        """A count as a share of the attacked encodings (0.0 when none were attacked)."""
        value = getattr(self, what)
        return float(value) / self.n if self.n and value is not None else 0.0

    @property
    def risk(self) -> float:
        """The re-identification rate: correct 1-1 guesses with the truth; without it, the share
        of 1-1 guesses (an upper bound: a guess may be wrong)."""
        return self.rate("correct_one_to_one" if self.evaluated else "one_to_one")

    def as_dict(self) -> dict:
        out = {"attack": self.attack, "source": self.source, "target": "+".join(self.target),
               "n": self.n, "one_to_one": self.one_to_one, "one_to_many": self.one_to_many,
               "too_many": int(np.count_nonzero(self.too_many)), "no_guess": self.no_guess,
               "correct_one_to_one": self.correct_one_to_one,
               "correct_one_to_many": self.correct_one_to_many, "wrong": self.wrong,
               "seconds": round(self.seconds, 2)}
        out.update({k: v for k, v in self.details.items() if isinstance(v, int | float | str)})
        return out

    def __str__(self) -> str:
        head = f"{self.attack} on {self.source} ({'+'.join(self.target)}, {self.n} encodings): "
        if self.evaluated:
            return head + (f"correct 1-1 {self.rate('correct_one_to_one'):.2%}, correct 1-m "
                           f"{self.rate('correct_one_to_many'):.2%}, wrong "
                           f"{self.rate('wrong'):.2%}")
        return head + (f"1-1 guesses {self.rate('one_to_one'):.2%}, 1-m guesses "
                       f"{self.rate('one_to_many'):.2%} (no truth: correctness unknown)")


def guesses_from_groups(group_of: np.ndarray, candidates: list[tuple | None], max_many: int
                        ) -> tuple[np.ndarray, np.ndarray]:
    """Per-record guesses from per-group candidate tuples (``group_of[i] = -1``: no group)."""
    n = group_of.size
    guesses = np.full(n, None, dtype=object)
    too_many = np.zeros(n, dtype=bool)
    per_group = np.full(len(candidates), None, dtype=object)
    many = np.zeros(len(candidates), dtype=bool)
    for j, c in enumerate(candidates):
        if c is None or len(c) == 0:
            continue
        if len(c) > max_many:
            many[j] = True
        else:
            per_group[j] = tuple(c)
    ok = group_of >= 0
    guesses[ok] = per_group[group_of[ok]]
    too_many[ok] = many[group_of[ok]]
    return guesses, too_many
