"""The fake Weibo behaves as a server should toward a client that gives up: no noise in a green test run."""

from __future__ import annotations

import http.client
import socket
import time

from complaints_tools.fake_weibo import FakeWeibo


def test_a_client_that_stops_reading_an_oversized_picture_ends_the_connection_quietly(capfd):
    fake = FakeWeibo().start()
    try:
        for _ in range(3):
            conn = http.client.HTTPConnection(fake.host, fake.port, timeout=5)
            conn.request("GET", "/sinaimg/large/huge.jpg")
            response = conn.getresponse()
            response.read(1024)  # as the media fetcher does once it passes its cap
            # Close with unread data: the kernel answers the fake's writes with a reset.
            conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            conn.close()
        time.sleep(0.5)
    finally:
        fake.stop()
    assert capfd.readouterr().err == ""
