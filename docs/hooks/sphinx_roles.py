"""mkdocs hook: Sphinx cross-reference roles in docstrings become links in the API reference.

The stage docstrings cite each other Sphinx-style (``:func:`dice```, ``:class:`pprl.Candidates```,
``:data:`~pprl.disclosure.TOTAL```). Rendered as Markdown, that reads ":func: dice". This hook turns
each role into an optional autorefs cross-reference: a link when the target is documented, plain
code otherwise (never a warning). A name without a package is looked up in the page's stage
(``reference/solve/`` -> ``pprl.solve.NAME``).
"""

from __future__ import annotations

import html
import re

ROLE = re.compile(r":(?:py:)?(?:func|class|meth|mod|data|attr|exc|obj):<code>([^<]+)</code>")


def _identifier(target: str, stage: str | None) -> str | None:
    if target.startswith("pprl"):
        return target
    if target.startswith(".") or stage is None:
        return None
    return f"pprl.{stage}.{target}"


def on_page_content(html_text: str, page, **kwargs) -> str:
    match = re.match(r"reference/([a-z_]+)/", page.url or "")
    stage = match.group(1) if match else None

    def replace(m: re.Match) -> str:
        target = html.unescape(m.group(1)).strip()
        short = target.lstrip("~")
        title = short.rsplit(".", 1)[-1] if target.startswith("~") else short
        identifier = _identifier(short, stage)
        code = f"<code>{html.escape(title)}</code>"
        if identifier is None:
            return code
        return f'<autoref identifier="{html.escape(identifier)}" optional>{code}</autoref>'

    return ROLE.sub(replace, html_text)
