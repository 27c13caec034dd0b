"""Downloading a picture a post points at: only from the allowed hosts, never inside our own network, bounded in
size and time. HTTPS servers here are real, on loopback, with a certificate made for the test."""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import socket
import ssl
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from complaints.adapters.fetch import FetchPolicy, FetchRefused, MediaFetcher, is_public_address

JPEG = b"\xff\xd8\xff" + b"picture" * 100


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    """(server context, client context) for a certificate valid for 127.0.0.1 and wx1.sinaimg.cn."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test media host")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("wx1.sinaimg.cn")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(folder / "cert.pem", folder / "key.pem")
    client = ssl.create_default_context(cafile=str(folder / "cert.pem"))
    return server, client


class Server:
    """An HTTPS server on 127.0.0.1 whose every GET is answered by `respond(handler)`; `requests` lists paths."""

    def __init__(self, context: ssl.SSLContext, respond: Callable[[BaseHTTPRequestHandler], None]) -> None:
        self.requests: list[str] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                server.requests.append(self.path)
                with contextlib.suppress(BrokenPipeError, ConnectionResetError, ssl.SSLError):  # the client hung up
                    respond(self)

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.http.daemon_threads = True
        self.http.socket = context.wrap_socket(self.http.socket, server_side=True)
        self.port = self.http.server_address[1]
        self.origin = f"https://127.0.0.1:{self.port}"
        threading.Thread(target=self.http.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def stop(self) -> None:
        self.http.shutdown()
        self.http.server_close()


def picture(h: BaseHTTPRequestHandler) -> None:
    h.send_response(200)
    h.send_header("Content-Type", "image/jpeg")
    h.send_header("Content-Length", str(len(JPEG)))
    h.end_headers()
    h.wfile.write(JPEG)


def redirect_to(location: str) -> Callable[[BaseHTTPRequestHandler], None]:
    def respond(h: BaseHTTPRequestHandler) -> None:
        h.send_response(302)
        h.send_header("Location", location)
        h.send_header("Content-Length", "0")
        h.end_headers()

    return respond


def endless(h: BaseHTTPRequestHandler) -> None:
    """No Content-Length, and it never stops sending."""
    h.send_response(200)
    h.send_header("Content-Type", "image/jpeg")
    h.end_headers()
    while True:
        h.wfile.write(b"\0" * 65536)


def trickle(h: BaseHTTPRequestHandler) -> None:
    """A byte every 50 ms: no single read ever waits long, the download as a whole takes forever."""
    h.send_response(200)
    h.send_header("Content-Length", "100000")
    h.end_headers()
    for _ in range(100000):
        h.wfile.write(b"\0")
        h.wfile.flush()
        time.sleep(0.05)


@pytest.fixture()
def serve(tls):
    started: list[Server] = []

    def start(respond=picture) -> Server:
        started.append(Server(tls[0], respond))
        return started[-1]

    yield start
    for s in started:
        s.stop()


def fetcher(tls, *entries: str, **options) -> MediaFetcher:
    policy = FetchPolicy.parse(",".join(["*.sinaimg.cn", *entries]))
    return MediaFetcher(policy, max_bytes=options.pop("max_bytes", 100_000), ssl_context=tls[1], **options)


def test_an_allowed_origin_gives_the_picture(tls, serve):
    server = serve()
    assert fetcher(tls, server.origin).fetch(f"{server.origin}/large/a.jpg?token=x") == JPEG
    assert server.requests == ["/large/a.jpg?token=x"]


@pytest.mark.parametrize(
    "url",
    [
        "http://wx1.sinaimg.cn/large/a.jpg",  # plain http, even to an allowed host
        "https://evil.example.com/large/a.jpg",
        "https://sinaimg.cn.evil.example.com/a.jpg",
        "https://wx1.sinaimg.cn:8443/a.jpg",  # an allowed host, another port
        "https://wx1.sinaimg.cn@evil.example.com/a.jpg",
        "https://127.0.0.1/a.jpg",
        "https://10.0.0.5/a.jpg",
        "https://169.254.169.254/latest/meta-data/",
        "https://[::1]/a.jpg",
        "https://[::ffff:127.0.0.1]/a.jpg",
        "file:///etc/passwd",
    ],
)
def test_links_outside_the_allow_list_are_refused_without_connecting(tls, url, monkeypatch):
    def no_dns(*args, **kwargs):
        raise AssertionError("looked up a host it should have refused")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(FetchRefused):
        fetcher(tls).fetch(url)


def test_an_allowed_name_that_resolves_to_loopback_is_refused_before_anything_is_sent(tls, monkeypatch):
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    received: list[bytes] = []

    def accept() -> None:
        conn, _ = listener.accept()
        conn.settimeout(5)
        with conn:
            received.append(conn.recv(1024))  # b"" when the client hangs up having sent nothing

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    # DNS (or a rebinding attacker) says wx1.sinaimg.cn is 127.0.0.1.
    monkeypatch.setattr(
        socket, "getaddrinfo", lambda *a, **k: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
    )
    with pytest.raises(FetchRefused, match="not a public"):
        fetcher(tls).fetch("https://wx1.sinaimg.cn/large/a.jpg")
    thread.join(5)
    listener.close()
    assert received == [b""]  # not even a TLS ClientHello


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),  # CGNAT, shared address space
        ("0.0.0.0", False),
        ("224.0.0.251", False),
        ("240.0.0.1", False),
        ("::1", False),
        ("::", False),
        ("fe80::1%eth0", False),
        ("fd00::1", False),
        ("ff02::1", False),
        ("::ffff:127.0.0.1", False),
        ("::ffff:10.0.0.1", False),
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 of 169.254.169.254
        ("2002:7f00:1::1", False),  # 6to4 of 127.0.0.1
        ("180.149.134.141", True),
        ("2400:89c0:1053:3::69", True),
    ],
)
def test_only_public_peer_addresses_are_allowed(address, public):
    assert is_public_address(address) is public


def test_a_redirect_to_an_allowed_target_is_followed(tls, serve):
    target = serve()
    first = serve(redirect_to(f"{target.origin}/large/b.jpg"))
    assert fetcher(tls, first.origin, target.origin).fetch(f"{first.origin}/large/a.jpg") == JPEG
    assert target.requests == ["/large/b.jpg"]


@pytest.mark.parametrize(
    "location",
    [
        "https://evil.example.com/a.jpg",
        "http://127.0.0.1:{port}/a.jpg",  # the same address and port, but plain http
        "https://127.0.0.1:{other}/a.jpg",  # the same host, a port not on the list
        "file:///etc/passwd",
        "https://169.254.169.254/latest/meta-data/",
    ],
)
def test_a_redirect_to_a_target_that_would_be_refused_is_refused(tls, serve, location):
    other = serve()
    first = serve(lambda h: redirect_to(location.format(port=first.port, other=other.port))(h))
    with pytest.raises(FetchRefused):
        fetcher(tls, first.origin).fetch(f"{first.origin}/a.jpg")
    assert other.requests == []


def test_redirects_stop_after_a_few_hops(tls, serve):
    loop = serve(lambda h: redirect_to(f"{loop.origin}/again")(h))
    with pytest.raises(FetchRefused, match="more than 3 redirects"):
        fetcher(tls, loop.origin, max_redirects=3).fetch(f"{loop.origin}/a.jpg")
    assert len(loop.requests) == 4


def test_a_body_over_the_cap_is_refused_while_it_streams(tls, serve):
    server = serve(endless)
    started = time.monotonic()
    with pytest.raises(FetchRefused, match="larger than 100000 bytes"):
        fetcher(tls, server.origin, max_bytes=100_000, deadline_s=30).fetch(f"{server.origin}/huge.jpg")
    assert time.monotonic() - started < 5


def test_a_declared_length_over_the_cap_is_refused_before_the_body(tls, serve):
    server = serve(picture)
    with pytest.raises(FetchRefused, match="larger than 100 bytes"):
        fetcher(tls, server.origin, max_bytes=100).fetch(f"{server.origin}/a.jpg")


def test_a_server_that_trickles_is_cut_at_the_total_deadline(tls, serve):
    server = serve(trickle)
    started = time.monotonic()
    with pytest.raises(FetchRefused, match="longer than 0.5 s"):
        fetcher(tls, server.origin, deadline_s=0.5).fetch(f"{server.origin}/slow.jpg")
    assert 0.4 < time.monotonic() - started < 2


def test_a_certificate_that_does_not_verify_is_refused(serve, tls):
    server = serve()
    policy = FetchPolicy.parse(server.origin)
    with pytest.raises(FetchRefused, match="SSLCertVerificationError"):
        MediaFetcher(policy, max_bytes=100_000).fetch(f"{server.origin}/a.jpg")  # the system's trust store


def test_reasons_never_carry_the_link_or_its_token(tls, serve):
    server = serve(lambda h: h.send_error(403))
    for url in (f"{server.origin}/a.jpg?token=s3cr3t", "https://evil.example.com/a.jpg?token=s3cr3t"):
        with pytest.raises(FetchRefused) as refused:
            fetcher(tls, server.origin).fetch(url)
        assert "s3cr3t" not in str(refused.value) and "evil" not in str(refused.value)


@pytest.mark.parametrize(
    "value",
    [
        "",
        "*.sinaimg.cn,",
        "*",
        "*.cn.",
        "10.0.0.1",
        "sinaimg",
        "http://10.0.0.1:80",  # an exact origin is loopback only
        "http://127.0.0.1",  # with its port
        "http://127.0.0.1:8090/pictures",
        "http://user@127.0.0.1:8090",
        "ftp://127.0.0.1:21",
    ],
)
def test_the_allow_list_takes_only_host_names_patterns_and_loopback_origins(value):
    with pytest.raises(ValueError):
        FetchPolicy.parse(value)


def test_an_exact_origin_allows_that_port_only():
    policy = FetchPolicy.parse("*.sinaimg.cn,http://127.0.0.1:8090")
    assert policy.admits("http", "127.0.0.1", 8090) == "origin"
    assert policy.admits("http", "127.0.0.1", 8091) is None
    assert policy.admits("https", "127.0.0.1", 8090) is None
    assert policy.admits("https", "wx1.sinaimg.cn", 443) == "name"
    assert policy.admits("https", "sinaimg.cn", 443) is None  # `*.` is for the hosts below it
