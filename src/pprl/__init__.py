"""pprl: privacy-preserving record linkage.

encode -> block -> compare -> solve -> disclosure. The guides live in docs/.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

from .candidates import Candidates
from .encodings import Encodings
from .errors import DataError, IncompatibleEncodingsError, PprlError, SchemaError
from .secret import Secret

_LAZY = {"encode", "block", "compare", "solve", "disclosure", "datasets", "job", "cli", "attack",
         "plots"}
_LAZY_ATTRS = {"Schema": ("encode.schema", "Schema")}

__all__ = [
    "Candidates",
    "DataError",
    "Encodings",
    "IncompatibleEncodingsError",
    "PprlError",
    "Schema",
    "SchemaError",
    "Secret",
    "__version__",
]


def __getattr__(name: str):
    """Import stage packages on first use, so ``import pprl`` stays light."""
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY_ATTRS:
        module, attr = _LAZY_ATTRS[name]
        return getattr(importlib.import_module(f".{module}", __name__), attr)
    raise AttributeError(f"module 'pprl' has no attribute {name!r}")
