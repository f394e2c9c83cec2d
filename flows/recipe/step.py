"""One step of a recipe: a single model call, with its prompt templates and policies."""

from __future__ import annotations

from typing import Annotated, Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import AfterValidator, Field, field_validator

from flows.recipe.base import RecipeModel, check_identifier
from flows.recipe.model_ref import ModelRef
from flows.recipe.templating import TemplateRefs, analyze_template

__all__ = ["TEMPLATE_FIELDS", "ModelString", "Step"]

#: Step fields rendered as Jinja templates.
TEMPLATE_FIELDS = ("system", "prompt")


def _check_model_string(value: str) -> str:
    ModelRef.parse(value)
    return value


ModelString = Annotated[str, AfterValidator(_check_model_string)]
"""A `PREFIX:MODEL` string, validated on construction."""


class Step(RecipeModel):
    """A model call: which model, what to send, and how to retry or fall back.

    `output`, when given, is a JSON Schema: the step asks the provider for
    structured output and templates see the parsed object. Any valid schema is
    accepted, but providers expect `type: object` at the top level. `stream`
    changes only how the reply travels (see `providers.streaming`): output,
    usage and errors are the same either way.
    """

    id: str = Field(description="Unique within the recipe; templates use steps.<id>.output")
    model: ModelString = Field(description="PREFIX:MODEL, e.g. anthropic:claude-haiku-4-5")
    system: str | None = Field(None, description="System prompt template")
    prompt: str = Field(description="User prompt template")
    output: dict[str, Any] | None = Field(None, description="JSON Schema for structured output")
    max_tokens: int = Field(1024, gt=0, strict=True, description="Cap on output tokens")
    temperature: float | None = Field(None, ge=0, le=2, description="Provider default if unset")
    stop: list[str] = Field(default_factory=list, description="Stop sequences")
    needs: list[str] = Field(
        default_factory=list, description="Steps to wait for beyond those templates reference"
    )
    fallbacks: list[ModelString] = Field(
        default_factory=list, description="Models tried in order when the primary one fails"
    )
    retries: int | None = Field(None, ge=0, strict=True, description="Engine default if unset")
    timeout_s: float | None = Field(None, gt=0, description="Per-call timeout in seconds")
    stream: bool | None = Field(
        None,
        strict=True,
        description="Stream the reply as server-sent events (true) or not (false); "
        "unset streams when max_tokens is 16384 or more",
    )

    @field_validator("id")
    @classmethod
    def _check_id(cls, value: str) -> str:
        return check_identifier(value, what="a step id", usage="steps.<id>")

    @field_validator("system", "prompt")
    @classmethod
    def _check_template(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not value.strip():
            raise ValueError("must not be empty; leave it out instead")
        problems = analyze_template(value).problems
        if problems:
            raise ValueError("; ".join(problems))
        return value

    @field_validator("output")
    @classmethod
    def _check_schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value is not None:
            try:
                Draft202012Validator.check_schema(value)
            except SchemaError as e:
                at = "".join(f"/{p}" for p in e.absolute_path) or "/"
                raise ValueError(f"not a valid JSON Schema: {e.message} (at {at})") from None
        return value

    @field_validator("stop")
    @classmethod
    def _check_stop(cls, value: list[str]) -> list[str]:
        if any(not s for s in value):
            raise ValueError("stop sequences must not be empty")
        return value

    @property
    def model_ref(self) -> ModelRef:
        """`model` parsed into key prefix and provider model name."""
        return ModelRef.parse(self.model)

    @property
    def fallback_refs(self) -> list[ModelRef]:
        """`fallbacks` parsed, in the order they are tried."""
        return [ModelRef.parse(m) for m in self.fallbacks]

    @property
    def structured(self) -> bool:
        """True when the step asks for JSON matching `output`."""
        return self.output is not None

    def template_refs(self) -> dict[str, TemplateRefs]:
        """What each template field references, keyed by field name."""
        refs: dict[str, TemplateRefs] = {}
        for name in TEMPLATE_FIELDS:
            source = getattr(self, name)
            if source is not None:
                refs[name] = analyze_template(source)
        return refs

    @property
    def referenced_steps(self) -> frozenset[str]:
        """Step ids used as `steps.<id>` in this step's templates."""
        return frozenset(s for r in self.template_refs().values() for s in r.steps)

    @property
    def referenced_inputs(self) -> frozenset[str]:
        """Input names used as `inputs.<name>` in this step's templates."""
        return frozenset(i for r in self.template_refs().values() for i in r.inputs)

    @property
    def dependencies(self) -> frozenset[str]:
        """Steps that must finish first: `needs` plus template references."""
        return frozenset(self.needs) | self.referenced_steps
