"""Stable entity ids across runs: an entity keeps its id from one year to the next.

Rules (a pure function of the two tables, so the same inputs always give the same ids):

* A previous entity's *heir* is the current cluster holding most of its records (ties: the cluster
  whose smallest record sorts first). Its id goes to its heir and nowhere else.
* A current cluster that is heir to several previous entities (a **merge**) takes the smallest of
  their ids; the others are retired and reported as merged into it.
* Records of a previous entity that ended up outside its heir form a **split**: their cluster keeps
  its own inherited id, or gets a new one.
* A cluster sharing no record with the previous table is **new**; a previous entity with no record
  left is **removed**.
* New ids are ``PREFIX`` + a zero-padded counter that only grows: it starts above every id ever
  issued (kept in the table's ``attrs["pprl_next_entity_id"]``, which Parquet preserves, and never
  below the largest previous id + 1), so no id is ever reused. New ids are handed out in the order
  of each cluster's smallest record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import DataError

NEXT_ID_ATTR = "pprl_next_entity_id"
SOURCE_COLUMNS = ("agency", "dataset")
EVENT_COLUMNS = ("event", "entity_id", "previous_id", "records")


@dataclass(frozen=True)
class StableIdReport:
    """What changed: ``events`` has one row per ``event`` ("kept", "merged", "split", "new",
    "removed") with the current ``entity_id``, the ``previous_id`` involved and the number of
    ``records`` concerned; ``next_id`` is the counter for the next run."""

    events: pd.DataFrame
    next_id: int

    def ids(self, event: str) -> list:
        """Current ids (or, for "removed", previous ids) with ``event``."""
        rows = self.events[self.events["event"] == event]
        col = "previous_id" if event == "removed" else "entity_id"
        return sorted(set(rows[col]))

    @property
    def counts(self) -> dict[str, int]:
        return {e: int((self.events["event"] == e).sum())
                for e in ("kept", "merged", "split", "new", "removed")}


def format_id(number: int, prefix: str = "E", width: int = 9) -> str:
    """``E000000123`` for 123 (prefix and width configurable)."""
    return f"{prefix}{number:0{width}d}"


def _source_column(frame: pd.DataFrame, what: str, source: str | None) -> str:
    if source is not None:
        if source not in frame.columns:
            raise DataError(f"{what} has no column {source!r}")
        return source
    for c in SOURCE_COLUMNS:
        if c in frame.columns:
            return c
    raise DataError(f"{what} needs a column 'agency' or 'dataset' naming each record's source")


def _keys(frame: pd.DataFrame, src: str) -> pd.Series:
    return frame[src].astype(str) + "\x1f" + frame["record_id"].astype(str)


def _check(frame: pd.DataFrame, what: str, cluster: str, src: str) -> pd.DataFrame:
    for col in (cluster, "record_id"):
        if col not in frame.columns:
            raise DataError(f"{what} has no column {col!r} (columns: {list(frame.columns)})")
    out = pd.DataFrame({"cluster": frame[cluster].to_numpy(), "key": _keys(frame, src).to_numpy()})
    if out["cluster"].isna().any():
        row = int(np.flatnonzero(out["cluster"].isna().to_numpy())[0])
        raise DataError(f"{what}, row {row}: {cluster} is missing")
    dup = out["key"].duplicated()
    if dup.any():
        row = int(np.flatnonzero(dup.to_numpy())[0])
        raise DataError(f"{what}, row {row}: record_id {str(frame['record_id'].iloc[row])!r} "
                        f"of {src} {str(frame[src].iloc[row])!r} appears twice")
    return out


def _id_numbers(ids: pd.Series, prefix: str) -> np.ndarray:
    pattern = re.compile(rf"^{re.escape(prefix)}(\d+)$")
    numbers = np.empty(len(ids), dtype=np.int64)
    for i, value in enumerate(ids.astype(str)):
        m = pattern.match(value)
        if m is None:
            raise DataError(f"previous entity table, entity_id {value!r}: expected "
                            f"{prefix!r} followed by digits")
        numbers[i] = int(m.group(1))
    return numbers


def stable_ids(previous: pd.DataFrame | None, current: pd.DataFrame, *,
               cluster_column: str = "entity_id", source_column: str | None = None,
               prefix: str = "E", width: int = 9,
               next_id: int | None = None) -> tuple[pd.DataFrame, StableIdReport]:
    """Give this run's clusters the ids of last run's entities (see the module rules).

    ``previous``: last run's entity table (``entity_id``, ``agency`` or ``dataset``,
    ``record_id``), or None for the first run. ``current``: this run's records with their cluster
    label in ``cluster_column`` (any hashable labels, e.g. :func:`clusters` output) and the same
    source and ``record_id`` columns. Returns the current rows with ``entity_id`` replaced by stable
    ids (sorted by id, source, record; ``attrs["pprl_next_entity_id"]`` set) and a report.
    """
    src = _source_column(current, "current", source_column)
    cur = _check(current, "current", cluster_column, src)
    if previous is None or len(previous) == 0:
        prev = pd.DataFrame({"cluster": pd.Series([], dtype=object),
                             "key": pd.Series([], dtype=object)})
        issued = 0
        counter = int(previous.attrs.get(NEXT_ID_ATTR, 1) if previous is not None else 1)
    else:
        prev = _check(previous, "previous", "entity_id",
                      _source_column(previous, "previous", source_column))
        numbers = _id_numbers(prev["cluster"], prefix)
        issued = int(numbers.max()) + 1
        counter = int(previous.attrs.get(NEXT_ID_ATTR, issued))
    counter = max(counter, issued, 1 if next_id is None else int(next_id))

    # canonical cluster order: by smallest record key, independent of the labels used
    first = cur.groupby("cluster", sort=False)["key"].min()
    order = first.sort_values(kind="stable")
    rank = pd.Series(np.arange(len(order)), index=order.index)
    cur["c"] = cur["cluster"].map(rank).to_numpy()

    shared = cur.merge(prev.rename(columns={"cluster": "prev"}), on="key")
    pairs = shared.groupby(["prev", "c"]).size().rename("n").reset_index()
    # heir of each previous entity: most shared records, then the first cluster
    pairs = pairs.sort_values(["prev", "n", "c"], ascending=[True, False, True], kind="stable")
    heir = pairs.drop_duplicates("prev").set_index("prev")["c"]
    heirs_of: dict[int, list] = {}
    for p, c in heir.items():
        heirs_of.setdefault(int(c), []).append(p)
    for c in heirs_of:
        heirs_of[c].sort(key=_id_sort_key(prefix))

    assigned: dict[int, str] = {}
    events: list[tuple] = []
    for c in range(len(order)):
        inherited = heirs_of.get(c)
        if inherited:
            keep = inherited[0]
            assigned[c] = keep
        else:
            assigned[c] = format_id(counter, prefix, width)
            counter += 1
    n_records = cur.groupby("c").size()
    shared_n = pairs.set_index(["prev", "c"])["n"]
    for c in range(len(order)):
        cid = assigned[c]
        inherited = heirs_of.get(c) or []
        for k, p in enumerate(inherited):
            events.append(("kept" if k == 0 else "merged", cid, p, int(shared_n[(p, c)])))
    for (p, c), n in shared_n.items():
        if heir[p] != c:
            events.append(("split", assigned[c], p, int(n)))
    overlapping = set(pairs["c"])
    for c in range(len(order)):
        if c not in overlapping:
            events.append(("new", assigned[c], None, int(n_records[c])))
    gone = sorted(set(prev["cluster"]) - set(heir.index), key=_id_sort_key(prefix))
    prev_sizes = prev.groupby("cluster").size()
    events.extend(("removed", None, p, int(prev_sizes[p])) for p in gone)

    out = current.copy()
    out["entity_id"] = cur["c"].map(assigned).to_numpy()
    if cluster_column != "entity_id":
        out = out.drop(columns=[cluster_column])
    out = out.sort_values(["entity_id", src, "record_id"], kind="stable",
                          key=lambda s: s.astype(str)).reset_index(drop=True)
    cols = ["entity_id"] + [c for c in out.columns if c != "entity_id"]
    out = out[cols]
    out.attrs[NEXT_ID_ATTR] = counter
    report = StableIdReport(pd.DataFrame(events, columns=list(EVENT_COLUMNS)), counter)
    return out, report


def _id_sort_key(prefix: str):
    """Order ids by their number (older = smaller), then as text."""
    pattern = re.compile(rf"^{re.escape(prefix)}(\d+)$")

    def key(value):
        m = pattern.match(str(value))
        return (int(m.group(1)) if m else -1, str(value))

    return key
