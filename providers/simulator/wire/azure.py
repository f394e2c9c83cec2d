"""Azure OpenAI as the simulator speaks it: Chat Completions behind Azure's URLs and auth.

    POST /openai/deployments/{deployment}/chat/completions?api-version=V
    POST /openai/v1/chat/completions                    (the version-less v1 API)

The key travels in the `api-key` header (a bearer token stands for Entra ID
and is accepted too). The deployment route needs `api-version`, as Azure
does (404 without it), and answers for the deployment named in the path;
the v1 route reads the deployment from the body's `model`. Bodies are
OpenAI's, with Azure's content-filter annotations; error bodies are Azure's
`{"error": {"code": "429", "message": ...}}`, where the code is the status
as a string unless a fault set one.
"""

from __future__ import annotations

from typing import Any

from providers.simulator.call import SimCall
from providers.simulator.replies import Completion
from providers.simulator.wire.base import (
    SSE,
    Credential,
    ErrorSpec,
    Incoming,
    Rejected,
    retry_headers,
)
from providers.simulator.wire.openai import OpenAIDialect

__all__ = ["AzureDialect"]

_NO_FILTER: dict[str, Any] = {"content_filter_results": {}}


class AzureDialect(OpenAIDialect):
    """OpenAI's wire format with Azure's key header, deployment path and error shape."""

    request_id_header = "apim-request-id"

    def credential(self, incoming: Incoming) -> Credential:
        key = incoming.headers.get("api-key")
        return Credential(key, in_url=False) if key else super().credential(incoming)

    def model_of(self, incoming: Incoming) -> str | None:
        deployment = incoming.path_params.get("deployment")
        return deployment if isinstance(deployment, str) else super().model_of(incoming)

    def parse(self, incoming: Incoming, credential: Credential, model: str | None) -> SimCall:
        if "deployment" in incoming.path_params and not incoming.query.get("api-version"):
            raise Rejected(ErrorSpec(404, "Resource not found", code="404"))
        if credential.key is None:
            raise Rejected(
                ErrorSpec(
                    401,
                    "Access denied due to missing subscription key. Make sure to include "
                    "subscription key when making requests to an API.",
                )
            )
        body = incoming.body
        if isinstance(body, dict) and model is not None:
            body = {**body, "model": model}  # the deployment decides, not the body
        return super().parse(
            Incoming(incoming.headers, incoming.query, incoming.path_params, body),
            credential,
            model,
        )

    def reply(self, call: SimCall, completion: Completion, response_id: str) -> dict[str, Any]:
        body = super().reply(call, completion, response_id)
        body["prompt_filter_results"] = [{"prompt_index": 0, **_NO_FILTER}]
        body["choices"] = [{**choice, **_NO_FILTER} for choice in body["choices"]]
        return body

    def error(self, spec: ErrorSpec) -> tuple[dict[str, Any], dict[str, str]]:
        return self.stream_error(spec)[1], retry_headers(spec)

    def stream_error(self, spec: ErrorSpec) -> SSE:
        code = spec.code if spec.code is not None else str(spec.status)
        return None, {"error": {"code": code, "message": spec.message}}
