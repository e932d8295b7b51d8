"""mkdocs hook: Sphinx cross-reference roles in docstrings render as code on the API page.

Several modules' docstrings still say :class:`~gan_regularizers.metrics.result.MetricResult` or
:func:`evaluate` (reStructuredText roles). mkdocstrings renders docstrings as Markdown, where
such a role shows as the raw text ":class:" before the code. This hook rewrites each role, in
the rendered HTML of every page, to the code alone (a leading ``~`` keeps the last name only, as
Sphinx does). tests/test_docs_site.py checks that no raw role is left on any page.
"""

from __future__ import annotations

import re
from typing import Any

ROLE = re.compile(
    r":(?:py:)?(?:class|func|meth|attr|mod|exc|data|obj|const):<code>(~?)([^<]*)</code>"
)


def _code(match: re.Match[str]) -> str:
    tilde, target = match.groups()
    return f"<code>{target.rsplit('.', 1)[-1] if tilde else target}</code>"


def on_page_content(html: str, **_: Any) -> str:
    """Each role's code, without the role."""
    return ROLE.sub(_code, html)
