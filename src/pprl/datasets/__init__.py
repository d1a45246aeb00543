"""Synthetic people for demos, tests and benchmarks, with the truth kept.

* :func:`population` - clean true people with US-like name frequencies, ages mostly 0-40,
  households (shared address, zip and mostly surname; twins happen).
* :func:`extracts` - two agency extracts of one population with a chosen overlap and corruption
  (typos, OCR and phonetic errors, nicknames, missing values, swapped day/month, marriage name
  changes, moves, zip errors) and the true pairs.
* :func:`agencies` - several agencies sampling one shared population (at most one record per
  agency per person); ``year=1, 2, ...`` gives the same agencies in later years for stable-id tests.
* :func:`reference_names` - a public-style name frequency list for attack experiments.

Everything is deterministic by ``seed`` and vectorised (a million people in seconds). The name,
street, city and nickname tables ship in ``tables.json``, built by ``_build_tables.py`` from
hand-written lists; nothing is downloaded.
"""

from ._corrupt import PRESETS, Corruption
from ._generate import agencies, extracts, population, reference_names
from ._people import Evolution

__all__ = ["PRESETS", "Corruption", "Evolution", "agencies", "extracts", "population",
           "reference_names"]
