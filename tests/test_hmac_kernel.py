"""The shared numba HMAC-SHA256 primitive against Python's ``hmac`` at every padding boundary."""

import hmac

import numpy as np
import pytest

from pprl._hmac_kernel import hmac_into, midstates


@pytest.mark.parametrize("key", [b"", b"Jefe", bytes(range(64)), bytes(range(65)), b"\xaa" * 131])
def test_hmac_into_equals_hmac_for_every_length_and_offset(key):
    data = np.frombuffer(bytes(range(256)) * 2, dtype=np.uint8)
    inner, outer = midstates(key)
    state, w, block = np.empty(8, np.uint32), np.zeros(64, np.uint32), np.empty(64, np.uint8)
    for length in range(0, 200):  # one and two padding blocks, 55/56/63/64/119/120-byte edges
        start = length % 7
        want = hmac.digest(key, data[start:start + length].tobytes(), "sha256")
        out = np.full(33, 0xEE, np.uint8)
        hmac_into(inner, outer, data, start, length, state, w, block, out)
        assert out[:32].tobytes() == want, length
        assert out[32] == 0xEE  # never writes past the 32 digest bytes
        short = np.empty(5, np.uint8)
        hmac_into(inner, outer, data, start, length, state, w, block, short)
        assert short.tobytes() == want[:5]


def test_rfc4231_case_2_midstates_and_digest():
    inner, outer = midstates(b"Jefe")
    msg = np.frombuffer(b"what do ya want for nothing?", dtype=np.uint8)
    out = np.empty(32, np.uint8)
    hmac_into(inner, outer, msg, 0, msg.size, np.empty(8, np.uint32), np.zeros(64, np.uint32),
              np.empty(64, np.uint8), out)
    assert out.tobytes().hex() == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
