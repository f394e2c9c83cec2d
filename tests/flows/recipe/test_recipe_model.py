"""The Python authoring API: models, model strings, the step graph and run inputs."""

from __future__ import annotations

import pickle
import re
from decimal import Decimal

import pytest
from pydantic import ValidationError

from flows.recipe import (
    InputSpec,
    ModelRef,
    Recipe,
    RecipeError,
    RecipeInputError,
    Schedule,
    Step,
    parse_recipe,
)


def step(step_id: str, prompt: str = "Say hi", **fields: object) -> Step:
    return Step.model_validate(
        {"id": step_id, "model": "openai:gpt-5-mini", "prompt": prompt, **fields}
    )


def recipe(*steps: Step, **fields: object) -> Recipe:
    return Recipe.model_validate({"name": "demo", "steps": list(steps), **fields})


# --- model strings ---------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "prefix", "model"),
    [
        ("openai:gpt-5-mini", "openai", "gpt-5-mini"),
        ("openrouter:anthropic/claude-sonnet-4-5", "openrouter", "anthropic/claude-sonnet-4-5"),
        ("ollama:llama3.2:1b", "ollama", "llama3.2:1b"),
        ("my_azure-2:deployment.v1", "my_azure-2", "deployment.v1"),
    ],
)
def test_model_ref_splits_on_first_colon_and_round_trips(
    text: str, prefix: str, model: str
) -> None:
    ref = ModelRef.parse(text)
    assert (ref.prefix, ref.model) == (prefix, model)
    assert str(ref) == text
    assert step("a", model=text).model_ref == ref


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("gpt5", "expected PREFIX:MODEL such as openai:gpt-5-mini, got 'gpt5'"),
        ("OpenAI:gpt-5", "key prefix 'OpenAI' must be lowercase"),
        (":gpt-5", "key prefix '' must be lowercase"),
        ("openai:", "model name after 'openai:' must be non-empty"),
        ("openai: gpt-5", "no surrounding spaces"),
    ],
)
def test_malformed_model_strings_are_rejected_with_an_example(text: str, expected: str) -> None:
    with pytest.raises(ValueError, match="openai:gpt-5-mini") as info:
        ModelRef.parse(text)
    assert expected in str(info.value)


def test_fallbacks_are_model_strings_too() -> None:
    s = step("a", fallbacks=["google:gemini-2.5-flash", "anthropic:claude-haiku-4-5"])
    assert [str(r) for r in s.fallback_refs] == s.fallbacks
    with pytest.raises(ValidationError, match=r"fallbacks\.1"):
        step("a", fallbacks=["google:gemini-2.5-flash", "gemini"])


# --- steps -------------------------------------------------------------------


def test_step_defaults_and_unknown_fields() -> None:
    s = step("a")
    assert (s.max_tokens, s.temperature, s.stop, s.needs, s.fallbacks) == (1024, None, [], [], [])
    assert (s.retries, s.timeout_s, s.system, s.output, s.structured) == (
        None,
        None,
        None,
        None,
        False,
    )
    assert s.stream is None  # automatic: see providers.streaming.wants_stream
    with pytest.raises(ValidationError, match="extra"):
        step("a", promt="typo")


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"id": "my-step"}, "a step id must be letters, digits and '_'"),
        ({"id": "class"}, "a step id must be"),
        ({"max_tokens": 0}, "greater than 0"),
        ({"max_tokens": True}, "valid integer"),
        ({"temperature": 2.5}, "less than or equal to 2"),
        ({"retries": -1}, "greater than or equal to 0"),
        ({"timeout_s": 0}, "greater than 0"),
        ({"stream": "yes"}, "valid boolean"),
        ({"stream": 1}, "valid boolean"),
        ({"prompt": "  "}, "must not be empty"),
        ({"stop": [""]}, "stop sequences must not be empty"),
        ({"output": {"type": "objekt"}}, "not a valid JSON Schema"),
        ({"prompt": "{{ oops"}, "line 1: template syntax error"),
    ],
)
def test_invalid_step_fields(fields: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValidationError, match=fragment):
        Step.model_validate({"id": "a", "model": "openai:x", "prompt": "hi"} | fields)


def test_any_valid_json_schema_is_accepted_as_output() -> None:
    assert step("a", output={"type": "array", "items": {"type": "string"}}).structured
    assert step("a", output={"type": "object", "properties": {"t": {"type": "string"}}}).structured


def test_models_are_immutable() -> None:
    s = step("a")
    with pytest.raises(ValidationError, match="frozen"):
        s.prompt = "changed"  # type: ignore[misc]


# --- recipe-level validation -------------------------------------------------


def problems(excinfo: pytest.ExceptionInfo[ValidationError]) -> str:
    return str(excinfo.value)


def test_duplicate_step_ids() -> None:
    with pytest.raises(ValidationError) as info:
        recipe(step("a"), step("b"), step("a"))
    assert "steps: duplicate step id 'a' (steps #1 and #3)" in problems(info)


def test_needs_must_name_existing_steps() -> None:
    with pytest.raises(ValidationError) as info:
        recipe(step("extract"), step("reply", needs=["extrct"]))
    assert (
        "step 'reply': field 'needs': unknown step 'extrct' (did you mean 'extract'?)"
        in problems(info)
    )


def test_template_references_must_name_existing_steps_and_inputs() -> None:
    with pytest.raises(ValidationError) as info:
        recipe(
            step("a", "hi"),
            step("b", "{{ steps.zzz.output }}\n{{ inputs.tiket }}"),
            inputs={"ticket": {}},
        )
    text = problems(info)
    assert "step 'b': field 'prompt': line 1: steps.zzz is not a step; steps are: a, b" in text
    assert (
        "step 'b': field 'prompt': line 2: inputs.tiket is not declared (did you mean 'ticket'?)"
        in text
    )


def test_system_templates_are_checked_too() -> None:
    with pytest.raises(ValidationError, match=r"step 'a': field 'system': line 1: inputs\.x"):
        recipe(step("a", system="{{ inputs.x }}"))


@pytest.mark.parametrize(
    ("steps", "cycle"),
    [
        ([step("a", needs=["b"]), step("b", needs=["a"])], "a → b → a"),
        ([step("a", "{{ steps.a.output }}")], "a → a"),
        (
            [
                step("x"),
                step("a", "{{ steps.b.output }}"),
                step("b", needs=["c"]),
                step("c", needs=["a"]),
            ],
            "a → b → c → a",
        ),
    ],
)
def test_cycles_are_reported_as_a_path(steps: list[Step], cycle: str) -> None:
    with pytest.raises(ValidationError, match=f"steps: cycle {cycle}"):
        recipe(*steps)


def test_a_recipe_needs_a_slug_name_and_a_step() -> None:
    with pytest.raises(ValidationError, match="expected a slug"):
        recipe(step("a"), name="Support Triage")
    with pytest.raises(ValidationError, match="at least one step"):
        Recipe(name="empty", steps=[])


def test_budget_must_be_positive_and_is_exact() -> None:
    assert recipe(step("a"), budget_usd=0.1).budget_usd == Decimal("0.1")
    with pytest.raises(ValidationError, match="greater than 0"):
        recipe(step("a"), budget_usd=0)


# --- the graph ---------------------------------------------------------------


def diamond() -> Recipe:
    return recipe(
        step("reply", "{{ steps.extract.output.topic }} {{ steps['summarize'].output }}"),
        step("summarize", needs=["fetch"]),
        step("extract", "{{ steps.fetch.output }}"),
        step("fetch"),
        step("audit", needs=["reply"]),
    )


def test_dependencies_combine_needs_and_template_references() -> None:
    assert diamond().dependencies() == {
        "reply": frozenset({"extract", "summarize"}),
        "summarize": frozenset({"fetch"}),
        "extract": frozenset({"fetch"}),
        "fetch": frozenset(),
        "audit": frozenset({"reply"}),
    }


def test_topological_order_keeps_file_order_among_ready_steps() -> None:
    assert diamond().topological_order() == ["fetch", "summarize", "extract", "reply", "audit"]
    independent = recipe(step("c"), step("a"), step("b"))
    assert independent.topological_order() == ["c", "a", "b"]


def test_layers_group_steps_that_can_run_in_parallel() -> None:
    assert diamond().layers() == [["fetch"], ["summarize", "extract"], ["reply"], ["audit"]]


def test_step_lookup() -> None:
    assert diamond().step("fetch").id == "fetch"
    with pytest.raises(KeyError, match="no step 'nope'"):
        diamond().step("nope")


# --- run inputs ----------------------------------------------------------------


def typed_inputs() -> Recipe:
    return recipe(
        step("a", "{{ inputs }}"),
        inputs={
            "ticket": {"description": "The message"},
            "count": {"type": "integer", "default": 3},
            "ratio": {"type": "number", "default": 1},
            "urgent": {"type": "boolean", "default": False},
            "level": {"enum": ["low", "high"], "default": "low"},
        },
    )


def test_inputs_from_the_command_line_are_coerced_to_their_types() -> None:
    raw = {"ticket": "Help", "count": " 42 ", "ratio": "0.5", "urgent": "yes", "level": "high"}
    assert typed_inputs().coerce_inputs(raw) == {
        "ticket": "Help",
        "count": 42,
        "ratio": 0.5,
        "urgent": True,
        "level": "high",
    }


def test_defaults_fill_in_and_are_typed() -> None:
    values = typed_inputs().coerce_inputs({"ticket": "Help"})
    assert values == {"ticket": "Help", "count": 3, "ratio": 1.0, "urgent": False, "level": "low"}
    assert isinstance(values["ratio"], float)


def test_json_values_are_accepted_as_they_are() -> None:
    values = typed_inputs().coerce_inputs({"ticket": "x", "count": 7.0, "urgent": True})
    assert values["count"] == 7
    assert values["urgent"] is True


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (
            {"ticket": "x", "count": "4.5"},
            "input 'count': expected a whole number such as 42, got text",
        ),
        (
            {"ticket": "x", "count": True},
            "input 'count': expected a whole number such as 42, got true/false",
        ),
        ({"ticket": "x", "ratio": "nan"}, "input 'ratio': expected a number such as 0.5, got text"),
        ({"ticket": "x", "urgent": "maybe"}, "input 'urgent': expected true or false, got text"),
        ({"ticket": "x", "level": "mid"}, "input 'level': must be one of 'low', 'high'"),
        ({"ticket": 5}, "input 'ticket': expected text, got a number"),
        (
            {"ticket": "x", "tiket": "y"},
            "unknown input 'tiket' (did you mean 'ticket'?); "
            "this recipe's inputs: ticket, count, ratio, urgent, level",
        ),
        ({}, "missing required input 'ticket'"),
    ],
)
def test_bad_inputs_are_named_without_echoing_values(raw: dict[str, object], expected: str) -> None:
    with pytest.raises(RecipeInputError) as info:
        typed_inputs().coerce_inputs(raw)
    assert str(info.value) == f"recipe 'demo': {expected}"
    for value in raw.values():
        if isinstance(value, str) and len(value) > 1:
            assert value not in str(info.value).replace("'tiket'", "")


def test_all_input_problems_are_reported_at_once() -> None:
    with pytest.raises(RecipeInputError) as info:
        typed_inputs().coerce_inputs({"count": "many", "extra": "1"})
    assert len(info.value.problems) == 3
    assert isinstance(info.value, RecipeError)


def test_a_recipe_without_inputs_says_so() -> None:
    with pytest.raises(RecipeInputError, match="this recipe's inputs: none"):
        recipe(step("a")).coerce_inputs({"x": "1"})


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ({"type": "integer", "default": "3"}, "field 'default': expected a whole number"),
        ({"enum": []}, "field 'enum': needs at least one value"),
        ({"type": "integer", "enum": [1, "two"]}, "field 'enum[1]': expected a whole number"),
        ({"enum": ["a", "b"], "default": "c"}, "field 'default': must be one of 'a', 'b'"),
        ({"type": "text"}, "'string', 'number', 'integer' or 'boolean'"),
    ],
)
def test_input_declarations_are_checked(spec: dict[str, object], fragment: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(fragment)):
        InputSpec.model_validate(spec)


def test_input_names_must_be_identifiers() -> None:
    with pytest.raises(ValidationError, match="an input name must be"):
        recipe(step("a"), inputs={"my-input": {}})


# --- schedules -------------------------------------------------------------------


def test_schedule_is_checked_like_prefect_and_against_inputs() -> None:
    r = recipe(
        step("a", "{{ inputs.n }}"),
        inputs={"n": {"type": "integer"}},
        schedule={"cron": "0 9 * * 1-5", "timezone": "Europe/Berlin", "inputs": {"n": 2}},
    )
    assert r.schedule == Schedule(cron="0 9 * * 1-5", timezone="Europe/Berlin", inputs={"n": 2})
    with pytest.raises(ValidationError, match="field 'cron': not a cron expression"):
        Schedule(cron="0 9 * * 1-8")
    with pytest.raises(ValidationError, match="field 'timezone': unknown timezone 'Mars/Base'"):
        Schedule(cron="0 9 * * *", timezone="Mars/Base")
    with pytest.raises(
        ValidationError, match="schedule: field 'inputs': missing required input 'n'"
    ):
        recipe(step("a"), inputs={"n": {"type": "integer"}}, schedule={"cron": "0 9 * * *"})


# --- round trip and pickling -------------------------------------------------------


def test_python_and_yaml_authoring_build_the_same_recipe() -> None:
    built = Recipe(
        name="support-triage",
        inputs={"ticket": InputSpec(description="The customer's message")},
        steps=[
            Step(
                id="extract",
                model="anthropic:claude-haiku-4-5",
                prompt="Ticket: {{ inputs.ticket }}",
                output={"type": "object", "properties": {"topic": {"type": "string"}}},
            ),
            Step(
                id="reply",
                model="openai:gpt-5-mini",
                prompt="About {{ steps.extract.output.topic }}",
                fallbacks=["google:gemini-2.5-flash"],
                retries=3,
            ),
        ],
        budget_usd=Decimal("0.25"),
    )
    parsed = parse_recipe(
        """
name: support-triage
inputs:
  ticket: {description: The customer's message}
steps:
  - id: extract
    model: anthropic:claude-haiku-4-5
    prompt: "Ticket: {{ inputs.ticket }}"
    output: {type: object, properties: {topic: {type: string}}}
  - id: reply
    model: openai:gpt-5-mini
    prompt: "About {{ steps.extract.output.topic }}"
    fallbacks: [google:gemini-2.5-flash]
    retries: 3
budget_usd: 0.25
"""
    )
    assert parsed == built
    assert Recipe.model_validate(built.model_dump(mode="json")) == built


def test_errors_survive_pickling() -> None:
    with pytest.raises(RecipeInputError) as info:
        typed_inputs().coerce_inputs({})
    copy = pickle.loads(pickle.dumps(info.value))  # noqa: S301 - our own bytes
    assert type(copy) is RecipeInputError
    assert str(copy) == str(info.value)
    assert copy.problems == info.value.problems
    assert copy.source == "recipe 'demo'"
