"""pprl.disclosure"""

from .extract_core import ExtractResult, extract, extract_with_report, pseudonymise
from .extract_report import ExtractReport
from .extract_spec import extract_from_spec
from .hierarchies import (
    CategoryHierarchy,
    DateHierarchy,
    Hierarchy,
    IntervalHierarchy,
    MapHierarchy,
    NumericHierarchy,
    PrefixHierarchy,
    UKPostcodeHierarchy,
)

__all__ = ["CategoryHierarchy", "DateHierarchy", "ExtractReport", "ExtractResult", "Hierarchy",
           "IntervalHierarchy", "MapHierarchy", "NumericHierarchy", "PrefixHierarchy",
           "UKPostcodeHierarchy", "extract", "extract_from_spec", "extract_with_report", "pseudonymise"]
