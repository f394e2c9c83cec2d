"""A recipe written for these tests (not one from the repository), with every input type.

Three providers: `extract` and `summarize` in parallel, then `reply`; so a
completed run makes exactly three provider calls.
"""

from __future__ import annotations

from pathlib import Path

from flows.recipe import Recipe, parse_recipe

__all__ = ["CALLS_PER_RUN", "TYPED_RECIPE", "typed_recipe", "write_recipe"]

CALLS_PER_RUN = 3

TYPED_RECIPE = """\
name: ticket-desk
description: Triage a ticket and draft a reply
inputs:
  ticket: {type: string, description: The customer's message}
  tone: {type: string, enum: [friendly, formal], default: friendly, description: Reply tone}
  max_words: {type: integer, default: 120, description: Longest reply allowed}
  temperature: {type: number, default: 0.3}
  urgent: {type: boolean, default: false, description: Answer today}
steps:
  - id: extract
    model: anthropic:claude-haiku-4-5
    prompt: "Ticket: {{ inputs.ticket }}"
    output:
      type: object
      properties: {topic: {type: string}}
      required: [topic]
  - id: summarize
    model: google:gemini-2.5-flash
    prompt: "Summarise: {{ inputs.ticket }}"
  - id: reply
    model: openai:gpt-5-mini
    prompt: >-
      In at most {{ inputs.max_words }} {{ inputs.tone }} words{% if inputs.urgent %}, urgently{%
      endif %}, reply about {{ steps.extract.output.topic }}: {{ steps.summarize.output }}
schedule:
  cron: "30 8 * * 1-5"
  timezone: Europe/Berlin
  inputs: {ticket: Weekly digest, tone: formal}
"""


def typed_recipe(text: str = TYPED_RECIPE) -> Recipe:
    """The recipe above, parsed and validated."""
    return parse_recipe(text, source="ticket-desk.yaml")


def write_recipe(folder: Path, text: str = TYPED_RECIPE, name: str = "desk.yaml") -> Path:
    """The recipe as a file in `folder` (whose name differs from the recipe's)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path
