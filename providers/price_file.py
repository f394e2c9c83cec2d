"""User prices: a YAML (or JSON) file of per-million-token prices that beats genai-prices.

For what the bundled table cannot know: self-hosted models, negotiated
discounts, a price change newer than the installed genai-prices. The file is
`BYOK_PRICES_FILE` if set, else `BYOK_HOME/prices.yaml` if it exists; with
neither there are no user prices.

    # prices.yaml: "provider:model" (or "provider:*") -> USD per million tokens
    ollama:*:                  # every model served through keys of provider `ollama`
      input_mtok: 0
      output_mtok: 0
    openai:gpt-5-mini:         # a negotiated price
      input_mtok: "0.20"       # quoted numbers stay exact decimals
      cache_read_mtok: "0.02"
      output_mtok: "1.60"

`provider` is the key's provider as the ledger shows it (`byok usage --by
model`). `input_mtok` and `output_mtok` are required; a missing
`cache_read_mtok` or `cache_write_mtok` bills those tokens as plain input;
`cache_write_1h_mtok` (Anthropic's 1-hour cache writes) needs
`cache_write_mtok`, and without it 1-hour writes cost the `cache_write_mtok`
rate.
Reasoning tokens are output tokens. The file is re-read when it changes, and
each priced call records the SHA-256 of the content that priced it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

__all__ = ["PriceFileError", "PriceTable", "UserPrice", "load_price_table", "price_file_path"]

#: The environment variable naming the price file explicitly.
PRICES_FILE_ENV = "BYOK_PRICES_FILE"


class PriceFileError(ValueError):
    """The user price file cannot be read or is not valid; the message says where."""


class UserPrice(BaseModel):
    """One model's prices in US dollars per million tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_mtok: Decimal = Field(ge=0, allow_inf_nan=False)
    output_mtok: Decimal = Field(ge=0, allow_inf_nan=False)
    cache_read_mtok: Decimal | None = Field(None, ge=0, allow_inf_nan=False)
    cache_write_mtok: Decimal | None = Field(None, ge=0, allow_inf_nan=False)
    cache_write_1h_mtok: Decimal | None = Field(None, ge=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _1h_writes_are_cache_writes(self) -> UserPrice:
        # genai-prices nests 1-hour writes under cache writes and refuses a
        # child price without its parent's.
        if self.cache_write_1h_mtok is not None and self.cache_write_mtok is None:
            raise ValueError("cache_write_1h_mtok needs cache_write_mtok as well")
        return self

    def price_keys(self) -> dict[str, Decimal]:
        """The set prices under genai-prices' price-key names."""
        return {key: value for key, value in self.model_dump().items() if value is not None}


@dataclass(frozen=True, slots=True)
class PriceTable:
    """The parsed price file: entries by `provider:model`, and its content digest."""

    path: Path
    sha256: str
    entries: Mapping[str, UserPrice]

    @property
    def source(self) -> str:
        """What a ledger row records as its price source (fits in 100 characters)."""
        return f"price file sha256:{self.sha256[:16]}"

    def lookup(self, provider: str, model: str) -> UserPrice | None:
        """The exact `provider:model` entry, else the provider's `provider:*` entry."""
        return self.entries.get(f"{provider}:{model}") or self.entries.get(f"{provider}:*")


def price_file_path() -> Path | None:
    """The price file to use, or None when there is none.

    An explicit `BYOK_PRICES_FILE` that does not exist is an error, not a
    silent fall back to public prices.
    """
    explicit = os.environ.get(PRICES_FILE_ENV)
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise PriceFileError(
                f"{PRICES_FILE_ENV} is {str(path)!r}, which is not a file: "
                "create it or unset the variable"
            )
        return path
    # Same default as vault.settings.byok_home(), without creating the folder.
    home = Path(os.environ.get("BYOK_HOME") or Path.home() / ".byok").expanduser()
    default = home / "prices.yaml"
    return default if default.is_file() else None


def load_price_table() -> PriceTable | None:
    """The current price file, parsed (cached until the file changes)."""
    path = price_file_path()
    if path is None:
        return None
    try:
        stat = path.stat()
    except OSError as error:
        raise PriceFileError(f"price file {path}: cannot read it ({error.strerror})") from None
    return _parse(str(path), stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=8)
def _parse(path: str, mtime_ns: int, size: int) -> PriceTable:  # noqa: ARG001 (cache keys)
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise PriceFileError(f"price file {path}: cannot read it ({error.strerror})") from None
    try:
        document = yaml.safe_load(raw)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise PriceFileError(f"price file {path}: not valid YAML or JSON{where}") from None
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise PriceFileError(
            f'price file {path}: expected a mapping of "provider:model" to prices, '
            f"got {type(document).__name__}"
        )
    entries = {_entry_key(path, key): _entry(path, key, value) for key, value in document.items()}
    return PriceTable(Path(path), hashlib.sha256(raw).hexdigest(), entries)


def _entry_key(path: str, key: Any) -> str:
    provider, sep, model = str(key).partition(":")
    if not isinstance(key, str) or not sep or not provider or not model:
        raise PriceFileError(
            f'price file {path}: entry {key!r} must be "provider:model" or "provider:*"'
        )
    return key


def _entry(path: str, key: str, value: Any) -> UserPrice:
    try:
        return UserPrice.model_validate(value)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "(entry)"
        raise PriceFileError(f"price file {path}: entry {key!r}: {field}: {first['msg']}") from None
