"""Azure OpenAI: an OpenAI-protocol key that Azure serves, with its own URL and auth.

A key is Azure's when its provider is `azure`, or when its base URL is an
Azure OpenAI host (`*.openai.azure.com`, `*.cognitiveservices.azure.com`,
`*.services.ai.azure.com`), whatever the provider is called:

    printf '%s' "$AZURE_OPENAI_API_KEY" | byok keys add azure --protocol openai \\
        --base-url https://my-resource.openai.azure.com
    model: azure:my-deployment          # the deployment name, not the model name

The body is Chat Completions, as for OpenAI; what differs:

* the key travels in the `api-key` header (bearer tokens are for Entra ID);
* the URL names the deployment and an API version:
  `{base}/openai/deployments/{deployment}/chat/completions?api-version=V`.
  V is the base URL's own `api-version` query parameter when it has one
  (`--base-url 'https://my-resource.openai.azure.com?api-version=2025-04-01-preview'`
  pins it per key), else `API_VERSION`. A base URL that already ends in
  `/openai` is not doubled;
* a base URL ending in `/openai/v1` selects Azure's version-less v1 API
  instead: `{base}/chat/completions` with the deployment as `model`.

Azure answers with the underlying model's name (e.g. `gpt-5-mini-2025-08-07`),
which is what the ledger prices; a deployment name alone has no price.
"""

from __future__ import annotations

from typing import Final
from urllib.parse import quote, urlsplit, urlunsplit

from providers.endpoint import Endpoint
from providers.urls import join_url, query_param

__all__ = ["API_VERSION", "AZURE_HOST_SUFFIXES", "chat_url", "is_azure"]

# The newest generally available data-plane version; a key's base URL may pin another.
API_VERSION: Final = "2024-10-21"
AZURE_HOST_SUFFIXES: Final = (
    ".openai.azure.com",
    ".cognitiveservices.azure.com",
    ".services.ai.azure.com",
)


def is_azure(endpoint: Endpoint) -> bool:
    """Whether an OpenAI-protocol endpoint is Azure OpenAI (see the module docstring)."""
    if endpoint.provider == "azure":
        return True
    try:
        host = urlsplit(endpoint.base_url).hostname or ""
    except ValueError:
        return False
    return host.endswith(AZURE_HOST_SUFFIXES)


def chat_url(endpoint: Endpoint, deployment: str) -> str:
    """The Chat Completions URL of `deployment` on the endpoint's Azure resource.

    Other query parameters of the base URL (a gateway's, say) are kept.
    """
    parts = urlsplit(endpoint.base_url)
    path = parts.path.rstrip("/")
    if path.endswith("/openai/v1"):
        return join_url(endpoint.base_url, "/chat/completions")
    version = query_param(endpoint.base_url, "api-version") or API_VERSION
    resource = urlunsplit(parts._replace(path=path.removesuffix("/openai"), fragment=""))
    name = quote(deployment, safe="")
    return join_url(
        resource, f"/openai/deployments/{name}/chat/completions", {"api-version": version}
    )
