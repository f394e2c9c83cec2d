"""Provider URLs from a key's base URL, and spotting credentials in query strings.

A base URL may carry a query string that every call must repeat, such as
Azure OpenAI's `?api-version=2025-04-01-preview` or a gateway's routing
parameter. The adapters therefore never glue paths onto the base URL as text
(`f"{base}/chat/completions"` would land after the `?`): `join_url` appends
the path to the base URL's *path* and keeps its query, adding the adapter's
own parameters.

Keys must never travel in URLs (invariant 2: URLs end up in proxy and access
logs), so the vault refuses a base URL with a parameter that looks like a
credential, and the simulator leaves such parameters out of its records.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

__all__ = ["credential_params", "is_credential_param", "join_url", "query_param"]

# Words that name a secret in query parameters seen in the wild: `key`, `api-key`,
# `api_key`, `apikey`, `x-api-key`, `subscription-key`, `access_token`, `token`,
# `id_token`, `sig` and `signature` (Azure SAS), `secret`, `client_secret`,
# `password`, `auth`, `authorization`, `credential`, `session`, `code`.
_CREDENTIAL_WORDS = re.compile(
    r"(^|_)(key|apikey|token|sig|signature|secret|password|passwd|pwd|auth|authorization|"
    r"credentials?|session|code|bearer|jwt)(_|$)"
)


def is_credential_param(name: str) -> bool:
    """Whether a query parameter's name says it carries a credential.

    Matched by whole words, case-insensitively, with `-`, `.` and `_`
    alike: `api-version` and `deployment` pass; `API-Key`, `access_token`,
    `x_goog_api_key` and `sig` do not.
    """
    words = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return bool(_CREDENTIAL_WORDS.search(words))


def credential_params(query: str) -> list[str]:
    """Names of the parameters in `query` that look like credentials, in order."""
    names = (name for name, _ in parse_qsl(query, keep_blank_values=True))
    return list(dict.fromkeys(name for name in names if is_credential_param(name)))


def query_param(url: str, name: str) -> str | None:
    """The first value of query parameter `name` in `url`, or None."""
    for key, value in parse_qsl(urlsplit(url).query, keep_blank_values=True):
        if key == name:
            return value
    return None


def join_url(base_url: str, path: str, params: Mapping[str, str] | None = None) -> str:
    """`path` appended to `base_url`'s path, with its query kept and `params` set.

    `params` replace base-URL parameters of the same name. With no query and
    no `params` this is exactly `base_url.rstrip("/") + path`.
    """
    parts = urlsplit(base_url)
    query = parts.query
    if params:
        kept: Iterable[tuple[str, str]] = (
            (key, value)
            for key, value in parse_qsl(query, keep_blank_values=True)
            if key not in params
        )
        query = urlencode([*kept, *params.items()])
    return urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/") + path, query, ""))
