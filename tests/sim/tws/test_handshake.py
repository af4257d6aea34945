"""The handshake's version floor: a client whose API versions are all older than the simulator's
is told why (error 506 after a handshake reply at its own version), not silently dropped."""

from __future__ import annotations

import asyncio
import struct

from sim.tws.framing import FrameReader


async def test_a_client_speaking_only_old_versions_gets_506_then_the_socket_closes(gateway) -> None:
    reader, writer = await asyncio.open_connection(gateway.host, gateway.port)
    hello = b"v100..151"
    writer.write(b"API\0" + struct.pack(">I", len(hello)) + hello)
    await writer.drain()
    data = await asyncio.wait_for(reader.read(), timeout=2)  # until EOF
    frames = FrameReader().feed(data)
    assert frames[0][0] == "151"  # the handshake answered at the client's own version
    code, text = frames[1][3], frames[1][4]
    assert frames[1][:3] == ["4", "2", "-1"] and code == "506"
    assert "v100..151" in text and "v157..178" in text
    writer.close()


async def test_ibapi_range_is_accepted_at_157(gateway) -> None:
    reader, writer = await asyncio.open_connection(gateway.host, gateway.port)
    hello = b"v100..157"
    writer.write(b"API\0" + struct.pack(">I", len(hello)) + hello)
    await writer.drain()
    frame = await asyncio.wait_for(reader.read(64), timeout=2)
    assert FrameReader().feed(frame)[0][0] == "157"
    writer.close()
