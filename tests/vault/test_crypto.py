"""The sealed-blob format: round trips, tamper rejection, bindings, nonces, a golden blob."""

from __future__ import annotations

import dataclasses
import json
import struct
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from vault.crypto import (
    AssociatedData,
    Purpose,
    aes_gcm_decrypt,
    aes_gcm_encrypt,
    key_id_of,
    new_data_key,
    seal,
    unseal,
)
from vault.errors import DecryptionError

KEY = bytes(range(32))
AD = AssociatedData(
    purpose=Purpose.PROVIDER_KEY,
    org="org_0123456789abcdef",
    record="key_0123456789abcdef",
    version=1,
    provider="openai",
    protocol="openai",
)

# Sealed once with KEY under data-key id "dk_0123456789abcdef" and AD above. These must
# keep decrypting: a change to the format or the associated-data encoding breaks vaults.
GOLDEN_SECRET = bytes.fromhex(
    "42594f4b010113646b5f30313233343536373839616263646566882925741ba68e71aa5598d2"
    "a14e229cd0ff73fc56bf216c0dd30f05f95d792c02546ef53bbe4cf5ef1c857d77"
)
GOLDEN_DATA_KEY = bytes.fromhex(
    "42594f4b0101026b31bbd3138c575ba386bc82c3e9663faa994e64b0d0d3c9f90c8f829c1ead96b3"
    "4d68ac931b313580b3176cc04bc07095a70eb9236ae18b1fc17fb18d97"
)


def test_round_trip_and_header_layout() -> None:
    blob = seal(KEY, "dk_1", b"sk-secret", AD)

    assert unseal(KEY, blob, AD) == b"sk-secret"
    assert key_id_of(blob) == "dk_1"
    assert blob[:7] == b"BYOK\x01\x01\x04"  # magic, format 1, AES-256-GCM, key id length
    assert len(blob) == 7 + 4 + 12 + len(b"sk-secret") + 16
    assert b"sk-secret" not in blob


def test_golden_blobs_keep_decrypting() -> None:
    assert key_id_of(GOLDEN_SECRET) == "dk_0123456789abcdef"
    assert unseal(KEY, GOLDEN_SECRET, AD) == b"sk-golden-fixture"
    data_key_ad = AssociatedData(
        purpose=Purpose.DATA_KEY, org=AD.org, record="dk_0123456789abcdef", version=1
    )
    assert key_id_of(GOLDEN_DATA_KEY) == "k1"
    assert unseal(KEY, GOLDEN_DATA_KEY, data_key_ad) == bytes(range(100, 132))


def test_golden_blob_is_plain_aes_gcm_over_the_documented_layout() -> None:
    """Decrypt by hand from the module docstring's layout, without our wrapper."""
    kid_len = GOLDEN_SECRET[6]
    header_len = 7 + kid_len + 12
    header = GOLDEN_SECRET[:header_len]
    fields = [b"provider-key", AD.org.encode(), AD.record.encode(), b"1", b"openai", b"openai", b""]
    ad = b"BYOK-AD\x01" + b"".join(struct.pack(">I", len(f)) + f for f in fields)

    plaintext = AESGCM(KEY).decrypt(header[-12:], GOLDEN_SECRET[header_len:], header + ad)

    assert plaintext == b"sk-golden-fixture"


def test_every_flipped_byte_is_rejected() -> None:
    blob = seal(KEY, "dk_1", b"sk-secret", AD)
    for position in range(len(blob)):
        for mask in (0x01, 0x80, 0xFF):
            tampered = bytearray(blob)
            tampered[position] ^= mask
            with pytest.raises(DecryptionError):
                unseal(KEY, bytes(tampered), AD)


def test_every_truncation_and_extension_is_rejected() -> None:
    blob = seal(KEY, "dk_1", b"sk-secret", AD)
    for length in range(len(blob)):
        with pytest.raises(DecryptionError):
            unseal(KEY, blob[:length], AD)
    with pytest.raises(DecryptionError):
        unseal(KEY, blob + b"\x00", AD)


@pytest.mark.parametrize(
    "change",
    [
        {"purpose": Purpose.DATA_KEY},
        {"org": "org_other"},
        {"record": "key_other"},
        {"version": 2},
        {"provider": "anthropic"},
        {"protocol": "anthropic"},
        {"base_url": "https://attacker.example"},
    ],
    ids=lambda change: next(iter(change)),
)
def test_a_blob_opens_only_for_the_record_it_was_sealed_for(change: dict[str, object]) -> None:
    blob = seal(KEY, "dk_1", b"sk-secret", AD)

    with pytest.raises(DecryptionError):
        unseal(KEY, blob, dataclasses.replace(AD, **change))  # type: ignore[arg-type]


def test_associated_data_fields_cannot_be_shifted_into_each_other() -> None:
    first = AssociatedData(purpose=Purpose.PROVIDER_KEY, org="ab", record="c", version=1)
    second = AssociatedData(purpose=Purpose.PROVIDER_KEY, org="a", record="bc", version=1)

    assert first.encode() != second.encode()
    with pytest.raises(DecryptionError):
        unseal(KEY, seal(KEY, "dk_1", b"x", first), second)


def test_wrong_key_and_relabelled_key_id_are_rejected() -> None:
    blob = seal(KEY, "dk_1", b"sk-secret", AD)
    with pytest.raises(DecryptionError):
        unseal(new_data_key(), blob, AD)

    relabelled = blob[:7] + b"dk_2" + blob[11:]
    assert key_id_of(relabelled) == "dk_2"
    with pytest.raises(DecryptionError):
        unseal(KEY, relabelled, AD)


@pytest.mark.parametrize(
    "blob",
    [b"", b"sk-plaintext-key", b"BYOK", b"BYOK\x02\x01\x04dk_1" + bytes(40), b"\x00" * 64],
)
def test_unknown_formats_are_never_treated_as_plaintext(blob: bytes) -> None:
    with pytest.raises(DecryptionError):
        unseal(KEY, blob, AD)
    with pytest.raises(DecryptionError):
        key_id_of(blob)


def test_nonces_are_unique_over_many_encryptions() -> None:
    count = 20_000
    nonces = {seal(KEY, "k", b"", AD)[8:20] for _ in range(count)}  # "k": 1-byte key id

    assert len(nonces) == count


def test_data_keys_are_random_256_bit() -> None:
    keys = {new_data_key() for _ in range(100)}

    assert len(keys) == 100
    assert all(len(key) == 32 for key in keys)


def test_misuse_is_a_programming_error_not_a_decryption_error() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        seal(KEY[:16], "dk_1", b"x", AD)
    with pytest.raises(ValueError, match="key id"):
        seal(KEY, "bad id!", b"x", AD)


# --- NIST CAVP known answers, through the exact primitive `seal`/`unseal` call -----

NIST_FILE = Path(__file__).parent / "data" / "nist_gcm_encrypt_ext_iv256.json"
NIST_VECTORS = json.loads(NIST_FILE.read_text())["vectors"]


@pytest.mark.parametrize(
    "vector", NIST_VECTORS, ids=lambda v: f"PT{len(v['pt']) * 4}-AAD{len(v['aad']) * 4}"
)
def test_nist_cavp_aes_256_gcm_vectors(vector: dict[str, str]) -> None:
    key, iv, pt, aad, ct, tag = (
        bytes.fromhex(vector[name]) for name in ("key", "iv", "pt", "aad", "ct", "tag")
    )

    assert aes_gcm_encrypt(key, iv, pt, aad) == ct + tag
    assert aes_gcm_decrypt(key, iv, ct + tag, aad) == pt
    for position in (0, len(ct + tag) - 1):  # first ciphertext/tag byte and last tag byte
        tampered = bytearray(ct + tag)
        tampered[position] ^= 0x01
        with pytest.raises(DecryptionError):
            aes_gcm_decrypt(key, iv, bytes(tampered), aad)
    with pytest.raises(DecryptionError):
        aes_gcm_decrypt(key, iv, ct + tag, aad + b"\x00")


def test_nist_vectors_cover_the_lengths_the_vault_uses() -> None:
    assert len(NIST_VECTORS) >= 10
    assert {len(v["key"]) // 2 for v in NIST_VECTORS} == {32}
    assert {len(v["iv"]) // 2 for v in NIST_VECTORS} == {12}
    assert {len(v["tag"]) // 2 for v in NIST_VECTORS} == {16}
    assert {len(v["pt"]) for v in NIST_VECTORS} >= {0, 32, 64}  # empty, one and two blocks
    assert any(v["aad"] for v in NIST_VECTORS)


def test_seal_is_the_documented_layout_around_the_primitive() -> None:
    """Opening a blob by hand with the NIST-checked primitive gives the plaintext back."""
    blob = seal(KEY, "dk_1", b"sk-secret", AD)
    header = blob[: 7 + 4 + 12]

    assert aes_gcm_decrypt(KEY, header[-12:], blob[len(header) :], header + AD.encode()) == (
        b"sk-secret"
    )


def test_a_short_nonce_or_a_tag_less_blob_is_refused() -> None:
    with pytest.raises(ValueError, match="nonce"):
        aes_gcm_encrypt(KEY, bytes(8), b"x", b"")
    with pytest.raises(DecryptionError):
        aes_gcm_decrypt(KEY, bytes(12), bytes(15), b"")
