"""Templates: static references, sandboxed rendering, and errors that never leak values."""

from __future__ import annotations

import pickle
import traceback
from typing import Any

import pytest

from flows.recipe import TemplateRenderError, analyze_template, referenced_names, render
from flows.recipe.templating import _compile

SECRET = "s3cr3t-customer-text"


def context(**outputs: Any) -> dict[str, Any]:
    return {
        "inputs": {"ticket": SECRET, "n": 2},
        "steps": {step: {"output": output} for step, output in outputs.items()},
    }


def render_error(template: str, ctx: dict[str, Any] | None = None) -> TemplateRenderError:
    with pytest.raises(TemplateRenderError) as info:
        render(template, ctx if ctx is not None else context(), step="reply", field="prompt")
    error = info.value
    rendered = "".join(traceback.format_exception(error))
    assert SECRET not in rendered, "an input value leaked into the error or its traceback"
    assert error.__suppress_context__
    return error


# --- static analysis ---------------------------------------------------------


def test_references_are_found_in_the_ast() -> None:
    template = """
    {{ steps.extract.output.topic }} {{ steps['summarize'].output | upper }}
    {% if inputs.urgent %}{{ inputs['ticket'] }}{% endif %}
    {% for line in steps.notes.output.lines %}{{ line }}{% endfor %}
    """
    assert referenced_names(template) == (
        frozenset({"extract", "summarize", "notes"}),
        frozenset({"urgent", "ticket"}),
    )
    assert dict(analyze_template(template).steps) == {"extract": 2, "summarize": 2, "notes": 4}


def test_text_that_merely_looks_like_a_reference_is_not_one() -> None:
    assert referenced_names("Write about steps.extract and inputs.x in prose.") == (
        frozenset(),
        frozenset(),
    )
    assert referenced_names("{{ 'steps.extract' }}") == (frozenset(), frozenset())


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("{{ ticket }}", "line 1: unknown variable 'ticket'; templates can use inputs.<name>"),
        ("{% for s in steps %}{% endfor %}", "line 1: refer to another step as steps.<id>"),
        ("{{ steps[inputs.which].output }}", "line 1: refer to another step as steps.<id>"),
        ("{% set steps = 1 %}", "line 1: 'steps' is reserved and can't be assigned"),
        ("{% include 'other.txt' %}", "line 1: include, extends and import are not available"),
        ("{% import 'm' as m %}", "line 1: include, extends and import are not available"),
        ("x\n{{ steps.extract.outptu }}", "line 2: steps.extract.outptu: a step only has .output"),
        ("a\nb\n{% if %}", "line 3: template syntax error: "),
    ],
)
def test_template_problems_are_found_before_any_run(template: str, problem: str) -> None:
    problems = analyze_template(template).problems
    assert len(problems) == 1
    assert problems[0].startswith(problem)


def test_loop_variables_and_globals_are_not_unknown() -> None:
    template = "{% for i in range(inputs.n) %}{% set x = i %}{{ x }}{% endfor %}"
    assert analyze_template(template).problems == ()


# --- rendering -------------------------------------------------------------------


def test_render_structured_and_text_outputs() -> None:
    ctx = context(extract={"topic": "billing", "tags": ["a"]}, summarize="Short summary.")
    template = (
        "{{ steps.extract.output.topic }} | {{ steps.summarize.output }} | {{ inputs.n + 1 }}"
    )
    assert render(template, ctx) == "billing | Short summary. | 3"


def test_structured_values_render_as_json() -> None:
    ctx = context(extract={"topic": "billing", "urgent": True})
    assert render("{{ steps.extract.output }}", ctx) == '{"topic": "billing", "urgent": true}'


def test_block_tags_leave_no_blank_lines() -> None:
    template = "A\n{% if inputs.n %}\nB\n{% endif %}\nC"
    assert render(template, context()) == "A\nB\nC"


def test_compiled_templates_are_cached() -> None:
    template = "{{ inputs.n }} cached"
    assert render(template, context()) == "2 cached"
    assert _compile(template) is _compile(template)


# --- errors ------------------------------------------------------------------------


def test_undefined_names_are_named() -> None:
    error = render_error(
        "line one\n{{ steps.extract.output.topicc }}", context(extract={"topic": "x"})
    )
    assert str(error) == (
        "step 'reply': field 'prompt': line 2: 'topicc' is undefined: "
        "the 'dict' value has no such attribute or key"
    )
    assert str(render_error("{{ nothing }}")).endswith("line 1: 'nothing' is undefined")


def test_a_key_taken_from_an_input_is_never_shown() -> None:
    error = render_error("{{ steps.extract.output[inputs.ticket] }}", context(extract={}))
    assert "a computed name (not shown)" in str(error)


@pytest.mark.parametrize(
    "template",
    [
        "{{ ''.__class__ }}",
        "{{ inputs.ticket.__class__.__mro__ }}",
        "{{ range.__init__.__globals__ }}",
        "{{ lipsum.__globals__ }}",
        "{{ '{0.__class__}'.format(inputs.ticket) }}",
        "{{ inputs.ticket | attr('__class__') }}",
    ],
)
def test_sandbox_blocks_python_internals(template: str) -> None:
    message = str(render_error(template))
    assert "the sandbox blocked access to attribute" in message


def test_sandbox_blocks_mutating_values() -> None:
    ctx = context(extract={"items": []})
    message = str(render_error("{{ steps.extract.output['items'].append(1) }}", ctx))
    assert "blocked access to attribute 'append' of a 'list' object" in message
    assert ctx["steps"]["extract"]["output"]["items"] == []


def test_other_failures_hide_their_details() -> None:
    message = str(render_error("{{ inputs.ticket + 1 }}"))
    assert message == (
        "step 'reply': field 'prompt': line 1: TypeError while rendering "
        "(details hidden because they can contain input values)"
    )


def test_syntax_errors_at_render_time() -> None:
    message = str(render_error("ok\n{{ oops"))
    assert message.startswith("step 'reply': field 'prompt': line 2: template syntax error")


def test_render_errors_survive_pickling() -> None:
    error = render_error("{{ nothing }}")
    assert str(pickle.loads(pickle.dumps(error))) == str(error)  # noqa: S301 - our own bytes
