"""A griffe extension: Sphinx roles in docstrings become links in the API reference.

The docstrings cross-reference with Sphinx roles (``:func:`compile```,
``:class:`~bayesleg.errors.BayeslegError```, ``:meth:`Model.diagnose
<bayesleg.model.Model.diagnose>```).  This turns each into an optional
mkdocs-autorefs link: a link where the target is documented on the site,
plain code where it is not (a private helper, another library).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:class|func|meth|mod|data|attr|exc|obj):`(?P<text>[^`]+)`")
_EXPLICIT = re.compile(r"^(?P<title>.+?)\s*<(?P<target>[^>]+)>$")


class SphinxRoles(griffe.Extension):
    """Rewrite ``:role:`target``` in every docstring of the package."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        self._rewrite(pkg, set())

    def _rewrite(self, obj: griffe.Object, seen: set[str]) -> None:
        if obj.path in seen:
            return
        seen.add(obj.path)
        if obj.docstring is not None:
            obj.docstring.value = _ROLE.sub(
                lambda match: _link(obj, match["text"]), obj.docstring.value
            )
        for member in obj.members.values():
            if not member.is_alias:
                self._rewrite(member, seen)


def _link(obj: griffe.Object, text: str) -> str:
    explicit = _EXPLICIT.match(text)
    if explicit:
        title, target = explicit["title"], explicit["target"]
    else:
        target = text.lstrip("~")
        title = target.rsplit(".", 1)[-1] if text.startswith("~") else target
    identifier = _resolve(obj, target)
    code = f"<code>{title}</code>"
    if identifier is None:
        return code
    return f'<autoref identifier="{identifier}" optional>{code}</autoref>'


def _resolve(obj: griffe.Object, target: str) -> str | None:
    """Return the full path of ``target`` as seen from ``obj``, or None."""
    if target.startswith("bayesleg"):
        return target
    head, _, rest = target.partition(".")
    scope = obj if obj.is_module or obj.is_class else obj.parent
    try:
        path = scope.resolve(head) if scope is not None else None
    except griffe.NameResolutionError:
        return None
    return f"{path}.{rest}" if path and rest else path
