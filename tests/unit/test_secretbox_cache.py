"""The secret box's cached open (the postback path, ADR 0019): the same answers as ``open``, bounded,
a re-encrypted value opened afresh, and a value no key opens refused every time (never cached)."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.fernet import Fernet

from earnloop.secretbox import OPEN_CACHE_MAX, SecretBox, SecretBoxError, digest

SECRET = "publisher-secret-0123456789"


def test_open_cached_answers_like_open_and_follows_a_reencrypted_value() -> None:
    old, new = Fernet.generate_key(), Fernet.generate_key()
    before = SecretBox([old])
    stored = before.seal(SECRET)
    both = SecretBox([new, old])
    assert both.open_cached(stored) == both.open_cached(stored) == both.open(stored) == SECRET
    rotated = both.reseal(stored)
    assert rotated != stored
    assert both.open_cached(rotated) == SECRET
    assert SecretBox([new]).open_cached(rotated) == SECRET
    assert both.open_cached(SECRET) == SECRET  # a legacy plaintext row


def test_a_value_no_key_opens_is_refused_every_time() -> None:
    stored = SecretBox([Fernet.generate_key()]).seal(SECRET)
    other = SecretBox([Fernet.generate_key()])
    for _ in range(2):
        with pytest.raises(SecretBoxError):
            other.open_cached(stored)


def test_the_cache_is_bounded() -> None:
    box = SecretBox([Fernet.generate_key()])
    values = [box.seal(f"{SECRET}-{n}") for n in range(OPEN_CACHE_MAX + 10)]
    assert [box.open_cached(v) for v in values] == [f"{SECRET}-{n}" for n in range(OPEN_CACHE_MAX + 10)]
    assert box._opened.cache_info().currsize == OPEN_CACHE_MAX  # the bound itself


def test_the_digest_is_sha256_of_the_secret() -> None:
    assert digest(SECRET) == hashlib.sha256(SECRET.encode()).hexdigest()
    assert len(digest(SECRET)) == 64
