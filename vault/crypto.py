"""AES-256-GCM sealing in one versioned, self-describing binary format.

Both layers of the envelope use it: a master key-encryption key (KEK) wraps each
organisation's random 32-byte data key, and the data key seals each provider
key. A sealed blob is:

    offset  size  field
    0       4     magic b"BYOK"
    4       1     format version (1)
    5       1     algorithm id (1 = AES-256-GCM)
    6       1     key id length n (1..64)
    7       n     key id, ASCII: the KEK id for a data key, the data-key id for a secret
    7+n     12    random 96-bit nonce
    19+n    rest  ciphertext followed by the 16-byte GCM tag

The whole header (everything before the ciphertext) is authenticated as part of
the AEAD's associated data, followed by an unambiguous encoding of
`AssociatedData`: the purpose, org, record id, version, provider and endpoint the
blob belongs to. A ciphertext copied into another row, org, version or provider,
or re-labelled with another key id, fails its tag check. Every failure, from an
unknown magic to one flipped bit, raises the same `DecryptionError`; no input is
ever passed through as plaintext.

Nonces are random. NIST SP 800-38D allows 2**32 random-nonce encryptions per key;
a data key seals one org's provider keys, so that bound is far away.
"""

from __future__ import annotations

import os
import re
import struct
from dataclasses import dataclass
from enum import StrEnum

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vault.errors import DecryptionError

__all__ = [
    "ALGORITHM_AES_256_GCM",
    "FORMAT_VERSION",
    "KEY_BYTES",
    "MAGIC",
    "NONCE_BYTES",
    "TAG_BYTES",
    "AssociatedData",
    "Purpose",
    "aes_gcm_decrypt",
    "aes_gcm_encrypt",
    "key_id_of",
    "new_data_key",
    "seal",
    "unseal",
]

MAGIC = b"BYOK"
FORMAT_VERSION = 1
ALGORITHM_AES_256_GCM = 1
KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16

_KEY_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_FIXED_HEADER = struct.Struct(">4sBBB")  # magic, version, algorithm, key id length
_AD_DOMAIN = b"BYOK-AD\x01"
_REJECTED = "ciphertext rejected: unknown format, wrong key, altered bytes or another record's data"


class Purpose(StrEnum):
    """What a sealed blob holds; part of its associated data, so uses cannot be swapped."""

    DATA_KEY = "data-key"  # an org's data key, wrapped by a KEK
    PROVIDER_KEY = "provider-key"  # a provider API key, sealed by an org's data key
    KEK_CHECK = "kek-check"  # a known constant proving a KEK matches the database
    AUDIT_KEY = "audit-key"  # the audit chain's MAC key, wrapped by a KEK


@dataclass(frozen=True, slots=True)
class AssociatedData:
    """The record a blob is bound to; the same values must be given to open it.

    `org` and `record` are internal ids (not renameable slugs or names).
    `protocol` and `base_url` are bound too, so editing a row to send its key to
    another server makes it undecryptable instead of leaking it.
    """

    purpose: Purpose
    org: str
    record: str
    version: int
    provider: str = ""
    protocol: str = ""
    base_url: str = ""

    def encode(self) -> bytes:
        """Length-prefixed fields in a fixed order: no two bindings encode alike."""
        fields = (
            self.purpose.value,
            self.org,
            self.record,
            str(self.version),
            self.provider,
            self.protocol,
            self.base_url,
        )
        parts = [_AD_DOMAIN]
        for value in fields:
            raw = value.encode()
            parts.append(struct.pack(">I", len(raw)))
            parts.append(raw)
        return b"".join(parts)


def new_data_key() -> bytes:
    """A fresh random 256-bit key from the operating system's CSPRNG."""
    return AESGCM.generate_key(bit_length=256)


def seal(key: bytes, key_id: str, plaintext: bytes, ad: AssociatedData) -> bytes:
    """Encrypt `plaintext` under `key` (named `key_id` in the header), bound to `ad`."""
    _check_key(key)
    if not _KEY_ID.fullmatch(key_id):
        raise ValueError("a key id is 1-64 characters from A-Z, a-z, 0-9, '_', '.', '-'")
    kid = key_id.encode("ascii")
    header = (
        _FIXED_HEADER.pack(MAGIC, FORMAT_VERSION, ALGORITHM_AES_256_GCM, len(kid))
        + kid
        + os.urandom(NONCE_BYTES)
    )
    nonce = header[-NONCE_BYTES:]
    return header + aes_gcm_encrypt(key, nonce, plaintext, header + ad.encode())


def unseal(key: bytes, blob: bytes, ad: AssociatedData) -> bytes:
    """Decrypt a blob made by `seal` with the same key and binding, or raise `DecryptionError`."""
    _check_key(key)
    header_len, _ = _parse_header(blob)
    header = blob[:header_len]
    nonce = header[-NONCE_BYTES:]
    return aes_gcm_decrypt(key, nonce, blob[header_len:], header + ad.encode())


def aes_gcm_encrypt(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """The primitive under `seal`: AES-256-GCM, 96-bit nonce, ciphertext || 128-bit tag.

    Public so known-answer tests (NIST CAVP) exercise exactly the call `seal`
    makes; everything else uses `seal`, which picks a random nonce.
    """
    _check_key(key)
    _check_nonce(nonce)
    return AESGCM(key).encrypt(nonce, plaintext, aad)


def aes_gcm_decrypt(key: bytes, nonce: bytes, ciphertext_and_tag: bytes, aad: bytes) -> bytes:
    """The primitive under `unseal`; any failure is `DecryptionError`."""
    _check_key(key)
    _check_nonce(nonce)
    if len(ciphertext_and_tag) < TAG_BYTES:
        raise DecryptionError(_REJECTED)
    try:
        return AESGCM(key).decrypt(nonce, ciphertext_and_tag, aad)
    except InvalidTag:
        raise DecryptionError(_REJECTED) from None


def key_id_of(blob: bytes) -> str:
    """The key id in a blob's header: which key opens it. `DecryptionError` if malformed."""
    return _parse_header(blob)[1]


def _parse_header(blob: bytes) -> tuple[int, str]:
    """Validate the header and return (header length, key id)."""
    if len(blob) < _FIXED_HEADER.size:
        raise DecryptionError(_REJECTED)
    magic, version, algorithm, kid_len = _FIXED_HEADER.unpack_from(blob)
    header_len = _FIXED_HEADER.size + kid_len + NONCE_BYTES
    if (
        magic != MAGIC
        or version != FORMAT_VERSION
        or algorithm != ALGORITHM_AES_256_GCM
        or len(blob) < header_len + TAG_BYTES
    ):
        raise DecryptionError(_REJECTED)
    kid = blob[_FIXED_HEADER.size : _FIXED_HEADER.size + kid_len].decode("ascii", "replace")
    if not _KEY_ID.fullmatch(kid):
        raise DecryptionError(_REJECTED)
    return header_len, kid


def _check_key(key: bytes) -> None:
    if len(key) != KEY_BYTES:
        raise ValueError(f"an AES-256-GCM key is {KEY_BYTES} bytes, got {len(key)}")


def _check_nonce(nonce: bytes) -> None:
    if len(nonce) != NONCE_BYTES:
        raise ValueError(f"an AES-GCM nonce here is {NONCE_BYTES} bytes, got {len(nonce)}")
