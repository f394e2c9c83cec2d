"""Turn a structured step's reply into the parsed object, or one clear error.

Every provider's structured output arrives as JSON text. Parsing and
validating it against the step's schema happens here, once, for all of them,
so a recipe sees the same behaviour whichever model answered.

Failures raise `ResponseError` with `usage` attached, because the call was
paid for and the ledger must still bill it. Messages name the provider, the
finish reason and the failing schema keyword and path (taken from the schema,
never from the reply): no parser traceback, no output text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import replace
from typing import Any, NoReturn

from jsonschema import Draft202012Validator, SchemaError
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for

from providers.errors import InvalidRequestError, ResponseError
from providers.types import FinishReason, ModelResponse

__all__ = ["check_output_schema", "parse_structured"]

_INVALID = object()
_REWORD = "change the step's prompt or use another model"
_HINTS = {
    FinishReason.MAX_TOKENS: "the output was cut off: raise the step's max_tokens",
    FinishReason.STOP: "retry, or use a model with native structured output",
    FinishReason.OTHER: "retry, or use a model with native structured output",
}


def check_output_schema(schema: Mapping[str, Any], *, provider: str) -> None:
    """Refuse an invalid JSON Schema before the call is paid for."""
    try:
        validator_for(schema, default=Draft202012Validator).check_schema(dict(schema))
    except SchemaError as error:
        path = _path(error.absolute_schema_path) or "(root)"
        raise InvalidRequestError(
            f"the step's output schema is not a valid JSON Schema ({error.validator} at "
            f"{path}): fix the step's `output`",
            provider=provider,
            error_type="invalid_output_schema",
        ) from None


def parse_structured(
    response: ModelResponse, schema: Mapping[str, Any], *, provider: str
) -> ModelResponse:
    """`response` with `parsed` set to the validated object, or a `ResponseError`."""
    reason = response.finish_reason
    if reason is FinishReason.REFUSAL:
        _fail(response, provider, "refusal", "refused to produce the structured output", _REWORD)
    if reason is FinishReason.SAFETY:
        _fail(response, provider, "safety", "blocked the structured output", _REWORD)
    hint = _HINTS.get(reason, "")
    try:
        value = json.loads(response.text)
    except ValueError:
        # Raised outside this block: a JSONDecodeError holds the whole reply in `.doc`
        # and must not ride along as the new error's context.
        value = _INVALID
    if value is _INVALID:
        _fail(
            response,
            provider,
            "invalid_json",
            "returned output that is not valid JSON for the step's schema",
            hint,
        )
    validator_class = validator_for(schema, default=Draft202012Validator)
    error = best_match(validator_class(schema).iter_errors(value))
    if error is not None:
        where = _path(error.absolute_schema_path) or "(root)"
        _fail(
            response,
            provider,
            "schema_mismatch",
            "returned JSON that does not match the step's schema",
            hint,
            detail=f"{error.validator} at {where}",
        )
    return replace(response, parsed=value)


def _fail(
    response: ModelResponse, provider: str, kind: str, what: str, hint: str, *, detail: str = ""
) -> NoReturn:
    facts = ", ".join(filter(None, (detail, f"finish_reason={response.finish_reason.value}")))
    message = f"{provider} {what} ({facts})" + (f": {hint}" if hint else "")
    raise ResponseError(message, provider=provider, error_type=kind, usage=response.usage)


def _path(parts: Any) -> str:
    return "/".join(str(part) for part in parts)
