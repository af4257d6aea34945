"""Frames and the handshake: split/joined byte streams, version negotiation rules."""

from __future__ import annotations

import pytest

from sim.tws.framing import FrameReader, HandshakeError, encode, negotiate_version, parse_hello


def test_frames_survive_arbitrary_chunking() -> None:
    data = encode([9, 1, 42]) + encode([15, 1, "DU1234567"]) + encode([4, 2, -1, 2104, "ok"])
    reader = FrameReader()
    out = []
    for i in range(len(data)):
        out += reader.feed(data[i : i + 1])
    assert out == [["9", "1", "42"], ["15", "1", "DU1234567"], ["4", "2", "-1", "2104", "ok"]]


def test_fields_use_tws_conventions_for_none_bools_and_floats() -> None:
    [fields] = FrameReader().feed(encode([None, True, False, 100.0, 1.25, 0.0]))
    assert fields == ["", "1", "0", "100", "1.25", "0"]


@pytest.mark.parametrize(("cmax", "expected"), [(178, 178), (176, 176), (200, 178), (158, 157), (157, 157)])
def test_negotiates_min_of_client_max_and_178_but_never_158(cmax: int, expected: int) -> None:
    assert negotiate_version(157, cmax) == expected


def test_hello_with_connect_options_parses() -> None:
    assert parse_hello(["v157..178 +PACEAPI"]) == (157, 178, "+PACEAPI")


def test_client_that_needs_a_newer_protocol_is_refused() -> None:
    with pytest.raises(HandshakeError, match="simulator v157..178"):
        negotiate_version(201, 225)
