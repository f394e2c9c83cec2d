"""The simulator's answer to a call: deterministic text, token counts, cut-offs.

The reply depends only on the model and the prompt (system, turns, schema), so
the same request always gets the same answer, whichever protocol carried it.
Text replies read like `[sim claude-haiku-4-5] reply 3f2a9c1d: Amber harbour
quiet drifts past the lantern.` and never contain the prompt unless `echo` is on.
Structured calls get JSON from `instance_for`, valid for the request's schema.

Tokens are counted the way a rough tokenizer would, about four characters per
token and at least one; the schema counts as prompt, as it does for real
providers. A reply longer than `max_tokens` is cut to that many tokens and
reports the provider's max-tokens finish reason; for JSON replies the cut
makes the body invalid JSON, exactly what a client must cope with.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from enum import StrEnum

from providers.simulator.call import SimCall
from providers.simulator.instances import instance_for

__all__ = [
    "CHARS_PER_TOKEN",
    "Completion",
    "Finish",
    "complete",
    "count_tokens",
    "digest",
    "pieces",
]

CHARS_PER_TOKEN = 4

_WORDS = (
    "amber", "harbour", "quiet", "lantern", "river", "signal", "meadow", "copper",
    "north", "orbit", "granite", "willow", "ember", "tidal", "cedar", "silver",
    "falcon", "drift", "marble", "beacon", "summit", "hollow", "indigo", "canyon",
    "velvet", "glacier", "saffron", "ridge", "thistle", "comet", "juniper", "delta",
)  # fmt: skip
_VERBS = ("drifts past", "settles on", "leans toward", "circles", "echoes", "outlasts")


class Finish(StrEnum):
    """Why the simulated model stopped; each dialect maps it to its own value."""

    STOP = "stop"
    MAX_TOKENS = "max_tokens"
    STOP_SEQUENCE = "stop_sequence"


@dataclass(frozen=True, slots=True)
class Completion:
    """The reply text and what a provider would report about it."""

    text: str
    finish: Finish
    input_tokens: int
    output_tokens: int
    stop_sequence: str | None = None

    def __repr__(self) -> str:
        return (
            f"Completion(finish={self.finish.value}, input_tokens={self.input_tokens}, "
            f"output_tokens={self.output_tokens})"
        )


def count_tokens(text: str) -> int:
    """Approximate tokens in `text`: one per four characters, at least one."""
    return max(1, math.ceil(len(text) / CHARS_PER_TOKEN))


def digest(call: SimCall) -> str:
    """SHA-256 hex of everything the reply depends on."""
    canonical = json.dumps(
        {
            "model": call.model,
            "system": call.system,
            "turns": [[turn.role, turn.text] for turn in call.turns],
            "schema": call.schema,
            "json": call.json_object,
        },
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def complete(call: SimCall, *, echo: bool = False, echo_key: str | None = None) -> Completion:
    """The deterministic reply to `call`, cut at a stop sequence or `max_tokens`.

    `echo` repeats the prompt in a text reply, `echo_key` appends that key; a
    structured object reply gets them as an extra `echo` member.
    """
    seed = digest(call)
    if _wants_json(call):
        full = _structured(call, seed, echo=_echo_text(call, echo=echo, echo_key=echo_key))
    else:
        full = _sentence(call, seed, echo=echo)
        full = f"{full} Key: {echo_key}" if echo_key else full
    text, finish, matched = _apply_stop(full, call.stop)
    output_tokens = count_tokens(text)
    if call.max_tokens is not None and output_tokens > call.max_tokens:
        text = text[: call.max_tokens * CHARS_PER_TOKEN]
        finish, matched, output_tokens = Finish.MAX_TOKENS, None, call.max_tokens
    return Completion(
        text=text,
        finish=finish,
        input_tokens=_prompt_tokens(call),
        output_tokens=output_tokens,
        stop_sequence=matched,
    )


def _wants_json(call: SimCall) -> bool:
    return call.schema is not None or call.json_object


def _structured(call: SimCall, seed: str, *, echo: str | None = None) -> str:
    value = {"reply": _phrase(seed)} if call.schema is None else instance_for(call.schema, seed)
    if echo is not None and isinstance(value, dict):
        # An extra member: valid unless the schema forbids additional properties.
        value = {**value, "echo": echo}
    return json.dumps(value, ensure_ascii=False)


def _echo_text(call: SimCall, *, echo: bool, echo_key: str | None) -> str | None:
    """What a structured reply repeats: "Prompt: …", "Key: …", both, or None."""
    parts = [f"Prompt: {call.prompt}"] if echo else []
    parts += [f"Key: {echo_key}"] if echo_key else []
    return " ".join(parts) or None


def _sentence(call: SimCall, seed: str, *, echo: bool) -> str:
    text = f"[sim {call.model}] reply {seed[:8]}: {_phrase(seed)}"
    return f"{text} Prompt: {call.prompt}" if echo else text


def _phrase(seed: str) -> str:
    """A short readable sentence chosen by the seed's bytes."""
    data = bytes.fromhex(seed)
    count = 3 + data[0] % 3
    words: list[str] = []
    for byte in data[1:]:
        word = _WORDS[byte % len(_WORDS)]
        if word not in words:
            words.append(word)
        if len(words) == count + 1:
            break
    *subject, target = words
    verb = _VERBS[data[-1] % len(_VERBS)]
    return f"{' '.join(subject).capitalize()} {verb} the {target}."


def _apply_stop(text: str, stops: tuple[str, ...]) -> tuple[str, Finish, str | None]:
    """Cut `text` at the earliest stop sequence, as providers do (the sequence is dropped)."""
    hits = [(text.find(stop), stop) for stop in stops if stop and stop in text]
    if not hits:
        return text, Finish.STOP, None
    position, stop = min(hits)
    return text[:position], Finish.STOP_SEQUENCE, stop


def _prompt_tokens(call: SimCall) -> int:
    parts = [call.system, *(turn.text for turn in call.turns)]
    if call.schema is not None:
        parts.append(json.dumps(call.schema, sort_keys=True))
    return count_tokens("\n".join(part for part in parts if part))


def pieces(text: str, size: int = 16) -> list[str]:
    """`text` in consecutive pieces of about `size` characters, for streamed replies.

    Pieces end after a space where one is near, so a stream looks like a
    model's; an empty text is one empty piece (a stream always carries one).
    """
    result: list[str] = []
    start = 0
    while start < len(text):
        end = min(start + size, len(text))
        space = text.rfind(" ", start + 1, end)
        if end < len(text) and space > start:
            end = space + 1
        result.append(text[start:end])
        start = end
    return result or [""]
