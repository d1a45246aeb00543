"""Stage manifests: what makes a stage's output trustworthy, and the job's lock.

A stage is *done* when its manifest (JSON, written atomically after its outputs) records the key
of the current inputs, parameters and pprl version, and every output file still has the SHA-256
the manifest recorded. Outputs are written atomically too, so a kill at any moment leaves either
the previous state or a finished file without a manifest (which the next run rewrites).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .. import __version__
from ..errors import DataError
from ..io import atomic_path

MANIFEST_FORMAT = 1
WORK = "work"
LOCK = ".lock"


def sha256_file(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file's bytes."""
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def write_json(path: Path, doc: Mapping) -> None:
    """Write ``doc`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(doc, indent=2, sort_keys=True, default=_plain) + "\n", "utf-8")


def read_json(path: Path) -> dict | None:
    """The JSON object in ``path``, or None if it is absent or unreadable (a torn manifest)."""
    try:
        doc = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _plain(value):
    """JSON for numpy scalars and paths."""
    if hasattr(value, "item"):
        return value.item()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


@dataclass
class Stage:
    """One resumable unit: its inputs (name -> SHA-256), parameters and output files."""

    name: str
    root: Path
    manifest: Path
    outputs: tuple[str, ...] | None  # relative to root; None: whatever the manifest lists
    inputs: dict[str, str] = field(default_factory=dict)
    params: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        doc = {"stage": self.name, "inputs": self.inputs, "params": self.params,
               "pprl_version": __version__}
        text = json.dumps(doc, sort_keys=True, default=_plain)
        return hashlib.sha256(text.encode()).hexdigest()

    def check(self) -> tuple[str, str]:
        """``("done" | "stale" | "pending", why)``."""
        doc = read_json(self.manifest)
        if doc is None:
            return "pending", "not run yet"
        if doc.get("key") != self.key:
            return "stale", _what_changed(doc, self)
        recorded = doc.get("outputs", {})
        if self.outputs is not None and set(recorded) != set(self.outputs):
            return "stale", "outputs differ from the manifest"
        for rel, digest in recorded.items():
            path = self.root / rel
            if not path.is_file():
                return "stale", f"output {rel} is missing"
            if sha256_file(path) != digest:
                return "stale", f"output {rel} was modified"
        return "done", "up to date"

    def read(self) -> dict:
        doc = read_json(self.manifest)
        if doc is None:
            raise DataError(f"manifest {self.manifest} is missing or unreadable")
        return doc

    def begin(self) -> float:
        """Forget the old manifest before the outputs are rewritten."""
        with contextlib.suppress(FileNotFoundError):
            self.manifest.unlink()
        return time.perf_counter()

    def finish(self, started: float, stats: Mapping | None = None) -> dict:
        """Hash the outputs and write the manifest (last, atomically); returns it."""
        if self.outputs is None:
            raise ValueError(f"stage {self.name}: outputs unknown")
        doc = {"format": MANIFEST_FORMAT, "stage": self.name, "key": self.key,
               "pprl_version": __version__, "inputs": self.inputs, "params": self.params,
               "outputs": {rel: sha256_file(self.root / rel) for rel in self.outputs},
               "seconds": round(time.perf_counter() - started, 3),
               "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "stats": dict(stats or {})}
        write_json(self.manifest, doc)
        return doc


def _what_changed(old: dict, stage: Stage) -> str:
    if old.get("pprl_version") != __version__:
        return f"pprl version changed ({old.get('pprl_version')} -> {__version__})"
    changed = sorted(k for k in set(old.get("inputs", {})) | set(stage.inputs)
                     if old.get("inputs", {}).get(k) != stage.inputs.get(k))
    if changed:
        return "inputs changed: " + ", ".join(changed)
    params = sorted(k for k in set(old.get("params", {})) | set(stage.params)
                    if old.get("params", {}).get(k) != stage.params.get(k))
    return "parameters changed: " + ", ".join(params) if params else "manifest differs"


def clean_temporaries(*folders: Path) -> int:
    """Remove what a killed run left half-written: atomic_path's ``.NAME.*.tmp`` files and
    ``.*.partial`` folders. Only called while holding the job's lock."""
    removed = 0
    for folder in folders:
        if not folder.is_dir():
            continue
        for entry in folder.iterdir():
            if entry.name.startswith(".") and entry.name.endswith(".tmp") and entry.is_file():
                entry.unlink(missing_ok=True)
                removed += 1
            elif entry.name.startswith(".") and entry.name.endswith(".partial") and entry.is_dir():
                shutil.rmtree(entry, ignore_errors=True)
                removed += 1
    return removed


@contextlib.contextmanager
def job_lock(output: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``output`` for the whole run (released by the OS on a kill)."""
    work = output / WORK
    work.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks; runs must not overlap
        yield
        return
    fd = os.open(work / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise DataError(f"{output}: another pprl job is running on this output "
                            "folder") from None
        yield
    finally:
        os.close(fd)
