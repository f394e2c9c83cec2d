"""Checks on what users type: org slugs, key names, providers, base URLs and secrets.

Each check returns the normalised value or raises `InvalidInputError` naming the
argument and the accepted form. A secret is checked without ever being echoed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit, urlunsplit

from providers.types import Protocol
from providers.urls import credential_params
from vault.errors import InvalidInputError

__all__ = [
    "KeySpec",
    "check_base_url",
    "check_email",
    "check_key_name",
    "check_key_spec",
    "check_org_slug",
    "check_protocol",
    "check_provider",
    "check_secret",
]

_SLUG = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_PROVIDER = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
_EMAIL = re.compile(r"[a-z0-9._%+'-]{1,64}@[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,63}")
_MAX_EMAIL = 254
_MAX_SECRET = 4096
_PROTOCOLS = ", ".join(p.value for p in Protocol)


@dataclass(frozen=True, slots=True)
class KeySpec:
    """A new key's validated metadata, with the defaults applied."""

    provider: str
    name: str
    protocol: Protocol
    base_url: str | None


def check_key_spec(
    provider: str, name: str | None, protocol: Protocol | None, base_url: str | None
) -> KeySpec:
    """Validate a new key's metadata: name defaults to the provider, protocol to its own."""
    provider = check_provider(provider)
    resolved_protocol = check_protocol(provider, protocol)
    return KeySpec(
        provider=provider,
        name=check_key_name(name if name is not None else provider, provider),
        protocol=resolved_protocol,
        base_url=check_base_url(base_url, provider, resolved_protocol),
    )


def check_org_slug(slug: str) -> str:
    """An org slug: lowercase letters, digits, '-' and '_', at most 64."""
    if not _SLUG.fullmatch(slug):
        raise InvalidInputError(
            f"org {slug!r} is not a valid slug: use 1-64 lowercase letters, digits, '-' or '_'"
        )
    return slug


def check_email(email: str) -> str:
    """A user's email address, lowercased: it names the user in lists and the audit log."""
    normalised = email.strip().lower()
    if len(normalised) > _MAX_EMAIL or not _EMAIL.fullmatch(normalised):
        raise InvalidInputError(
            f"{email!r} is not an email address: users are named by email, e.g. ana@example.com"
        )
    return normalised


def check_provider(provider: str) -> str:
    """A pricing provider name such as `openai` or `ollama`, lowercased."""
    normalised = provider.strip().lower()
    if not _PROVIDER.fullmatch(normalised):
        raise InvalidInputError(
            f"provider {provider!r} is not a valid name: use 1-64 letters, digits, '.', '-' "
            "or '_' (e.g. openai, anthropic, google, ollama)"
        )
    return normalised


def check_key_name(name: str, provider: str) -> str:
    """A key name, usable as a model-string prefix; provider names are reserved."""
    if not _NAME.fullmatch(name):
        raise InvalidInputError(
            f"key name {name!r} is not valid: use 1-64 letters, digits, '.', '-' or '_' "
            "(it is the PREFIX of model strings `PREFIX:MODEL`)"
        )
    if name in {p.value for p in Protocol} and name != provider:
        raise InvalidInputError(
            f"the key name '{name}' is reserved for the {name} provider's key, because "
            f"`{name}:MODEL` means that provider; pick another --name"
        )
    return name


def check_protocol(provider: str, protocol: Protocol | None) -> Protocol:
    """The explicit protocol, or the provider's own when it is a protocol name."""
    if protocol is not None:
        return protocol
    try:
        return Protocol(provider)
    except ValueError:
        raise InvalidInputError(
            f"provider '{provider}' is not one of {_PROTOCOLS}: say which wire protocol it "
            "speaks with --protocol (e.g. --protocol openai for an OpenAI-compatible server)"
        ) from None


def check_base_url(base_url: str | None, provider: str, protocol: Protocol) -> str | None:
    """An http(s) URL without credentials or fragment, its path's trailing '/' removed.

    A query string is kept and repeated on every call (Azure's `api-version`,
    a gateway's routing parameter), but never one that looks like a key:
    keys travel in headers, since URLs end up in access logs. Required unless
    the provider is the protocol's own: a third party's key must never be sent
    to the official endpoint by default.
    """
    if base_url is None or not base_url.strip():
        if provider != protocol.value:
            raise InvalidInputError(
                f"provider '{provider}' speaks the {protocol.value} protocol through its own "
                "server: pass its --base-url, otherwise the key would be sent to "
                f"{protocol.value}'s official endpoint"
            )
        return None
    parts = _split_http_url(base_url.strip())
    if parts is None:
        raise InvalidInputError(
            "the base URL must be an http:// or https:// URL with a host, "
            "e.g. http://localhost:11434/v1"
        )
    if parts.username is not None or parts.password is not None:
        raise InvalidInputError(
            "the base URL must not contain a user name or password: the key is the credential"
        )
    if parts.fragment or base_url.strip().endswith("#"):
        raise InvalidInputError("the base URL must not have a #fragment")
    secrets = credential_params(parts.query)
    if secrets:
        # Name the parameters, never their values: a value may be the key itself.
        raise InvalidInputError(
            f"the base URL's query parameter {', '.join(repr(n) for n in secrets)} looks like a "
            "credential: keys must never be in URLs. Remove it and store the key itself with "
            "`byok keys add` (it is sent in a header)"
        )
    return urlunsplit(parts._replace(path=parts.path.rstrip("/")))


def _split_http_url(url: str) -> SplitResult | None:
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError when out of range or not a number
    except ValueError:
        return None
    if parts.scheme not in {"http", "https"} or not parts.hostname or port == 0:
        return None
    return parts


def check_secret(secret: str) -> str:
    """A provider key: non-empty, printable, no whitespace. Never echoed in errors."""
    if not secret:
        raise InvalidInputError(
            "the key is empty (for a server that needs no key, store any placeholder, e.g. 'none')"
        )
    if len(secret) > _MAX_SECRET:
        raise InvalidInputError(f"the key is longer than {_MAX_SECRET} characters")
    if not secret.isprintable() or any(c.isspace() for c in secret):
        raise InvalidInputError(
            "the key contains whitespace or control characters: paste only the key itself"
        )
    return secret
