"""pprl.disclosure: safe publication of linked data (suppression, its audit, differential privacy).

```python
t = disclosure.suppress(df, by=["race", "gender"], threshold=11)
budget = disclosure.Budget(epsilon=1.0)
r = disclosure.dp_counts(df, by=["race", "gender"], categories={...}, epsilon=0.5, budget=budget)
```
"""

from ._audit import audit
from ._budget import Budget, BudgetExceeded
from ._dp import dp_counts, dp_means, dp_sums
from ._grid import TOTAL
from ._release import release, write_release
from ._suppress import suppress
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

__all__ = ["TOTAL", "Budget", "BudgetExceeded", "audit", "dp_counts", "dp_means", "dp_sums",
           "release", "suppress", "write_release"]
__all__ += ["CategoryHierarchy", "DateHierarchy", "ExtractReport", "ExtractResult", "Hierarchy",
            "IntervalHierarchy", "MapHierarchy", "NumericHierarchy", "PrefixHierarchy",
            "UKPostcodeHierarchy", "extract", "extract_from_spec", "extract_with_report", "pseudonymise"]
