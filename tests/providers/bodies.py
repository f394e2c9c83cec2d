"""Realistic provider replies and streams, shaped like what each API returns today.

Each is a plain dict (or a list of server-sent events) as it comes off the
wire, with every usage field the provider bills by: Anthropic's cache writes
split by lifetime and thinking tokens, OpenAI's cached, cache-write and
reasoning tokens, Gemini's cached, thought and tool-use prompt tokens. The
fidelity tests check that the official SDKs accept them, so they cannot drift
from the real shapes unnoticed.
"""

from __future__ import annotations

import json
from typing import Any

from providers.streaming import ServerSentEvent

ANTHROPIC_USAGE: dict[str, Any] = {
    "input_tokens": 21,
    "cache_creation_input_tokens": 3000,
    "cache_read_input_tokens": 12000,
    "cache_creation": {"ephemeral_5m_input_tokens": 1000, "ephemeral_1h_input_tokens": 2000},
    "output_tokens": 590,
    "output_tokens_details": {"thinking_tokens": 412},
    "server_tool_use": None,
    "service_tier": "standard",
    "inference_geo": "us",
}

ANTHROPIC_MESSAGE: dict[str, Any] = {
    "id": "msg_01Aq9w938a90dw8q6xq3qdd4",
    "type": "message",
    "role": "assistant",
    "model": "claude-sonnet-4-5-20250929",
    "content": [
        {"type": "thinking", "thinking": "The ticket mentions a charge.", "signature": "EqQBCgIY"},
        {"type": "text", "text": "Billing: "},
        {"type": "text", "text": "charged twice."},
    ],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "stop_details": None,
    "usage": ANTHROPIC_USAGE,
}

OPENAI_COMPLETION: dict[str, Any] = {
    "id": "chatcmpl-C9xYz1RgB3rV0mE7bUq3tqT8kQ2ab",
    "object": "chat.completion",
    "created": 1757000000,
    "model": "gpt-5-mini-2025-08-07",
    "choices": [
        {
            "index": 0,
            "message": {
                "role": "assistant",
                "content": "Billing: charged twice.",
                "refusal": None,
                "annotations": [],
            },
            "logprobs": None,
            "finish_reason": "stop",
        }
    ],
    "usage": {
        "prompt_tokens": 2306,
        "completion_tokens": 403,
        "total_tokens": 2709,
        "prompt_tokens_details": {
            "cached_tokens": 1920,
            "cache_write_tokens": 0,
            "audio_tokens": 0,
        },
        "completion_tokens_details": {
            "reasoning_tokens": 384,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    },
    "service_tier": "default",
    "system_fingerprint": None,
}

# A Claude model through OpenRouter: cache writes reported, plus OpenRouter's own cost.
OPENROUTER_COMPLETION: dict[str, Any] = {
    "id": "gen-1757000000-AbCdEfGhIjKlMnOp",
    "provider": "Anthropic",
    "model": "anthropic/claude-sonnet-4.5",
    "object": "chat.completion",
    "created": 1757000000,
    "choices": [
        {
            "logprobs": None,
            "finish_reason": "stop",
            "native_finish_reason": "end_turn",
            "index": 0,
            "message": {"role": "assistant", "content": "Billing.", "refusal": None},
        }
    ],
    "usage": {
        "prompt_tokens": 5200,
        "completion_tokens": 60,
        "total_tokens": 5260,
        "cost": 0.0213,
        "is_byok": False,
        "prompt_tokens_details": {"cached_tokens": 1000, "cache_write_tokens": 4000},
        "cost_details": {"upstream_inference_cost": None},
        "completion_tokens_details": {"reasoning_tokens": 0},
    },
}

GEMINI_RESPONSE: dict[str, Any] = {
    "candidates": [
        {
            "content": {
                "parts": [
                    {"text": "**Reading the ticket** The user was charged twice.", "thought": True},
                    {"text": "Billing: charged twice."},
                ],
                "role": "model",
            },
            "finishReason": "STOP",
            "index": 0,
        }
    ],
    "usageMetadata": {
        "promptTokenCount": 1180,
        "candidatesTokenCount": 45,
        "totalTokenCount": 1850,
        "cachedContentTokenCount": 1024,
        "thoughtsTokenCount": 300,
        "toolUsePromptTokenCount": 325,
        "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 1180}],
        "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": 1024}],
    },
    "modelVersion": "gemini-2.5-flash",
    "responseId": "mW2yaPi0KqSbz7IPyc7s4Qs",
}


def sse(event: str | None, data: Any) -> ServerSentEvent:
    """One event as the decoder yields it; unnamed events are type "message"."""
    return ServerSentEvent(event or "message", data if isinstance(data, str) else json.dumps(data))


def wire(events: list[ServerSentEvent]) -> bytes:
    """The events as a `text/event-stream` body (named events keep their `event:` line)."""
    lines = []
    for event in events:
        name = "" if event.event == "message" else f"event: {event.event}\n"
        lines.append(f"{name}data: {event.data}\n\n")
    return "".join(lines).encode()


ANTHROPIC_STREAM: list[ServerSentEvent] = [
    sse(
        "message_start",
        {
            "type": "message_start",
            "message": {
                **{k: v for k, v in ANTHROPIC_MESSAGE.items() if k != "usage"},
                "content": [],
                "stop_reason": None,
                "usage": {**ANTHROPIC_USAGE, "output_tokens": 1, "output_tokens_details": None},
            },
        },
    ),
    sse(
        "content_block_start",
        {
            "type": "content_block_start",
            "index": 0,
            "content_block": {"type": "thinking", "thinking": "", "signature": ""},
        },
    ),
    sse("ping", {"type": "ping"}),
    sse(
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "thinking_delta", "thinking": "The ticket mentions a charge."},
        },
    ),
    sse(
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 0,
            "delta": {"type": "signature_delta", "signature": "EqQBCgIY"},
        },
    ),
    sse("content_block_stop", {"type": "content_block_stop", "index": 0}),
    sse(
        "content_block_start",
        {"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}},
    ),
    sse(
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "text_delta", "text": "Billing: "},
        },
    ),
    sse(
        "content_block_delta",
        {
            "type": "content_block_delta",
            "index": 1,
            "delta": {"type": "text_delta", "text": "charged twice."},
        },
    ),
    sse("content_block_stop", {"type": "content_block_stop", "index": 1}),
    sse(
        "message_delta",
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {
                "input_tokens": 21,
                "cache_creation_input_tokens": 3000,
                "cache_read_input_tokens": 12000,
                "output_tokens": 590,
                "output_tokens_details": {"thinking_tokens": 412},
            },
        },
    ),
    sse("message_stop", {"type": "message_stop"}),
]


def _openai_chunk(delta: dict[str, Any], finish: str | None = None) -> ServerSentEvent:
    return sse(
        None,
        {
            "id": OPENAI_COMPLETION["id"],
            "object": "chat.completion.chunk",
            "created": 1757000000,
            "model": OPENAI_COMPLETION["model"],
            "service_tier": "default",
            "system_fingerprint": None,
            "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
            "usage": None,
        },
    )


OPENAI_STREAM: list[ServerSentEvent] = [
    _openai_chunk({"role": "assistant", "content": "", "refusal": None}),
    _openai_chunk({"content": "Billing: "}),
    _openai_chunk({"content": "charged twice."}),
    _openai_chunk({}, "stop"),
    sse(
        None,
        {
            "id": OPENAI_COMPLETION["id"],
            "object": "chat.completion.chunk",
            "created": 1757000000,
            "model": OPENAI_COMPLETION["model"],
            "service_tier": "default",
            "system_fingerprint": None,
            "choices": [],
            "usage": OPENAI_COMPLETION["usage"],
        },
    ),
    sse(None, "[DONE]"),
]


def _gemini_chunk(text: str, usage: dict[str, Any], finish: str | None = None) -> ServerSentEvent:
    candidate: dict[str, Any] = {
        "content": {"parts": [{"text": text}], "role": "model"},
        "index": 0,
    }
    if finish:
        candidate["finishReason"] = finish
    return sse(
        None,
        {
            "candidates": [candidate],
            "usageMetadata": usage,
            "modelVersion": "gemini-2.5-flash",
            "responseId": GEMINI_RESPONSE["responseId"],
        },
    )


GEMINI_STREAM: list[ServerSentEvent] = [
    _gemini_chunk(
        "Billing: ",
        {"promptTokenCount": 1180, "totalTokenCount": 1480, "thoughtsTokenCount": 300},
    ),
    _gemini_chunk("charged twice.", GEMINI_RESPONSE["usageMetadata"], "STOP"),
]
