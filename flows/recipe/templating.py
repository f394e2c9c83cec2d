"""Prompt templates: Jinja2 in a sandbox, analysed statically, rendered without leaks.

Templates see exactly two names, `inputs` (this run's inputs) and `steps`
(`{step_id: {"output": text-or-parsed-object}}` for finished upstream steps), so
`{{ steps.extract.output.topic }}` works for structured steps. Rendering uses an
`ImmutableSandboxedEnvironment` (no `__class__`-style escapes, no mutating the
values) with `StrictUndefined` (a typo fails loudly instead of sending the model an
empty string) and no loader, so `include`/`import` can't read files.

Dependencies between steps are read from the parsed Jinja AST rather than with a
regex, so `steps['x']`, filters and nested expressions are understood and a use of
`steps` that can't be resolved before the run is reported as a problem.

Errors never quote values: a Jinja message such as "'dict object' has no attribute
'<key>'" can carry an input value when the key came from one, so ours name only
strings the template itself spells out.
"""

from __future__ import annotations

import json
import traceback
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from jinja2 import StrictUndefined, Template, TemplateSyntaxError, meta, nodes
from jinja2.exceptions import SecurityError, TemplateRuntimeError, UndefinedError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import missing

from flows.recipe.errors import Problem, TemplateRenderError

__all__ = ["TemplateRefs", "analyze_template", "referenced_names", "render"]

#: The only names a template can read; everything else is a typo.
CONTEXT_NAMES = frozenset({"inputs", "steps"})

_TEMPLATE_FILENAME = "<template>"  # what Jinja names frames of string templates
_CACHE_SIZE = 1024

# Strings the template being rendered spells out itself (names, attributes,
# constant keys): the only ones an error message may repeat.
_SPELLED: ContextVar[frozenset[str]] = ContextVar("byok_template_spelled", default=frozenset())


class _UndefinedValue(UndefinedError):
    """An undefined name, attribute or key was used (message is leak-free)."""


class _SandboxBlocked(SecurityError):
    """The sandbox refused an attribute (message is leak-free)."""


class _LeakFreeUndefined(StrictUndefined):
    """`StrictUndefined` whose message repeats only what the template spells.

    Jinja builds its message from the missing name, which is a value whenever a
    template indexes with one (`data[inputs.key]`).
    """

    __slots__ = ()

    def __init__(
        self,
        hint: str | None = None,
        obj: Any = missing,
        name: str | None = None,
        exc: type[TemplateRuntimeError] = UndefinedError,
    ) -> None:
        safe_exc = _SandboxBlocked if issubclass(exc, SecurityError) else _UndefinedValue
        super().__init__(hint, obj, name, safe_exc)

    @property
    def _undefined_message(self) -> str:
        name = self._undefined_name
        spelled = isinstance(name, str) and name in _SPELLED.get()
        shown = repr(name) if spelled else "a computed name (not shown)"
        if self._undefined_exception is _SandboxBlocked:
            owner = type(self._undefined_obj).__name__
            return f"the sandbox blocked access to attribute {shown} of a {owner!r} object"
        if self._undefined_obj is missing:
            return f"{shown} is undefined"
        owner = type(self._undefined_obj).__name__
        return f"{shown} is undefined: the {owner!r} value has no such attribute or key"


def _finalize(value: Any) -> Any:
    """Render structured values as JSON, which models read better than Python reprs."""
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return value


_ENV = ImmutableSandboxedEnvironment(
    undefined=_LeakFreeUndefined,
    autoescape=False,
    loader=None,
    finalize=_finalize,
    trim_blocks=True,  # a `{% if %}` line leaves no blank line in the prompt
    lstrip_blocks=True,
    auto_reload=False,
)
_GLOBALS = frozenset(_ENV.globals)


@lru_cache(maxsize=_CACHE_SIZE)
def _compile(source: str) -> Template:
    """Compile once per distinct source: the same step renders on every run."""
    return _ENV.from_string(source)


@dataclass(frozen=True, slots=True)
class TemplateRefs:
    """What a template reads, found statically before any run.

    `steps` and `inputs` map each referenced step id / input name to the first
    line using it; `problems` lists what would make the template fail or hide a
    dependency (syntax errors, unknown variables, dynamic `steps` access,
    include/import), each starting with `line N:`.
    """

    steps: Mapping[str, int]
    inputs: Mapping[str, int]
    problems: tuple[str, ...]


def _walk(
    node: nodes.Node, parent: nodes.Node | None = None
) -> Iterator[tuple[nodes.Node, nodes.Node | None]]:
    """Every node with its parent, depth first in source order."""
    yield node, parent
    for child in node.iter_child_nodes():
        yield from _walk(child, node)


def _member(node: nodes.Node) -> tuple[nodes.Name, str] | None:
    """`(Name node, member)` for `name.member` / `name['member']`, else None."""
    if isinstance(node, nodes.Getattr) and isinstance(node.node, nodes.Name):
        return node.node, node.attr
    if (
        isinstance(node, nodes.Getitem)
        and isinstance(node.node, nodes.Name)
        and isinstance(node.arg, nodes.Const)
        and isinstance(node.arg.value, str)
    ):
        return node.node, node.arg.value
    return None


def _parse(source: str) -> nodes.Template:
    return _ENV.parse(source)


@lru_cache(maxsize=_CACHE_SIZE)
def analyze_template(source: str) -> TemplateRefs:
    """Find the steps and inputs `source` references, and anything wrong with it.

    Never raises: syntax errors come back as problems, so validation can report
    them alongside everything else.
    """
    try:
        ast = _parse(source)
    except TemplateSyntaxError as e:
        problem = f"line {e.lineno}: template syntax error: {e.message}"
        return TemplateRefs(MappingProxyType({}), MappingProxyType({}), (problem,))

    refs: dict[str, dict[str, int]] = {"steps": {}, "inputs": {}}
    problems: list[str] = []
    resolved: set[int] = set()  # ids of `steps`/`inputs` Name nodes seen as `steps.x`
    for node, parent in _walk(ast):
        line = node.lineno
        if isinstance(node, nodes.Include | nodes.Extends | nodes.Import | nodes.FromImport):
            problems.append(f"line {line}: include, extends and import are not available")
        member = _member(node)
        if member and member[0].name in CONTEXT_NAMES:
            owner, name = member
            refs[owner.name].setdefault(name, line)
            resolved.add(id(owner))
            if owner.name == "steps" and (after := _member_of(parent, node)) not in {
                None,
                "output",
            }:
                problems.append(
                    f"line {line}: steps.{name}.{after}: a step only has .output "
                    f"(use steps.{name}.output)"
                )
        if isinstance(node, nodes.Name) and node.name in CONTEXT_NAMES:
            if node.ctx != "load":
                problems.append(f"line {line}: {node.name!r} is reserved and can't be assigned")
            elif node.name == "steps" and id(node) not in resolved:
                problems.append(
                    f"line {line}: refer to another step as steps.<id> or steps['<id>'] "
                    "so the dependency is known before the run"
                )

    for name in sorted(meta.find_undeclared_variables(ast) - CONTEXT_NAMES - _GLOBALS):
        line = next(n.lineno for n in ast.find_all(nodes.Name) if n.name == name)
        problems.append(
            f"line {line}: unknown variable {name!r}; templates can use "
            "inputs.<name> and steps.<id>.output"
        )
    return TemplateRefs(
        steps=MappingProxyType(refs["steps"]),
        inputs=MappingProxyType(refs["inputs"]),
        problems=tuple(problems),
    )


def _member_of(parent: nodes.Node | None, child: nodes.Node) -> str | None:
    """The attribute or constant key `parent` reads from `child`, if that's what it is."""
    if isinstance(parent, nodes.Getattr) and parent.node is child:
        return parent.attr
    if (
        isinstance(parent, nodes.Getitem)
        and parent.node is child
        and isinstance(parent.arg, nodes.Const)
        and isinstance(parent.arg.value, str)
    ):
        return parent.arg.value
    return None


def referenced_names(source: str) -> tuple[frozenset[str], frozenset[str]]:
    """`(step ids, input names)` that `source` references."""
    refs = analyze_template(source)
    return frozenset(refs.steps), frozenset(refs.inputs)


@lru_cache(maxsize=_CACHE_SIZE)
def _spelled(source: str) -> frozenset[str]:
    """Names, attributes and string constants written in the template itself."""
    spelled: set[str] = set()
    for node, _ in _walk(_parse(source)):
        if isinstance(node, nodes.Name):
            spelled.add(node.name)
        elif isinstance(node, nodes.Getattr):
            spelled.add(node.attr)
        elif isinstance(node, nodes.Const) and isinstance(node.value, str):
            spelled.add(node.value)
    return frozenset(spelled)


def _template_line(exc: BaseException) -> int | None:
    """The template line being rendered when `exc` was raised (Jinja rewrites frames)."""
    lines = [
        lineno
        for frame, lineno in traceback.walk_tb(exc.__traceback__)
        if frame.f_code.co_filename == _TEMPLATE_FILENAME
    ]
    return lines[-1] if lines else None


def _describe(exc: Exception) -> str:
    """A message for a render failure that cannot contain rendered values."""
    if isinstance(exc, _UndefinedValue | _SandboxBlocked):
        message = str(exc)
    elif isinstance(exc, SecurityError):
        message = "the sandbox blocked an unsafe operation"
    elif isinstance(exc, UndefinedError):
        message = "a value is undefined"
    else:
        message = (
            f"{type(exc).__name__} while rendering "
            "(details hidden because they can contain input values)"
        )
    line = _template_line(exc)
    return f"line {line}: {message}" if line is not None else message


def render(
    template: str,
    context: Mapping[str, Any],
    *,
    step: str | None = None,
    field: str | None = None,
) -> str:
    """Render `template` with `context` (`{"inputs": ..., "steps": ...}`).

    `step` and `field` only label the error. Raises `TemplateRenderError` naming
    the line and the undefined name or blocked operation, never a value.
    """
    where, field = (f"step {step!r}" if step else ""), field or ""
    try:
        compiled = _compile(template)
    except TemplateSyntaxError as e:
        problem = Problem(f"line {e.lineno}: template syntax error: {e.message}", where, field)
        raise TemplateRenderError([problem]) from None

    token = _SPELLED.set(_spelled(template))
    try:
        return compiled.render(context)
    except Exception as e:
        # `from None`: the original message may quote values and would otherwise
        # be printed as the exception's context in logged tracebacks.
        raise TemplateRenderError([Problem(_describe(e), where, field)]) from None
    finally:
        _SPELLED.reset(token)
