"""The one way the desk downloads media a post points at (Weibo pictures; WeChat media next): hostile URLs, safely.

The URL comes from someone else's JSON, so it could point anywhere — at the Lambda's own metadata endpoint, at a
private network, at a server that never stops sending. So a download:

- is https only, to a host on the allow-list (`MEDIA_FETCH_HOSTS`: host names and `*.` patterns, port 443). The
  local stack may add its fake's exact origin (`http://127.0.0.1:8090`): that scheme, loopback address and port, and
  nothing else; the template parameter's pattern admits no such entry, so a deployed stack cannot;
- checks the address of the socket actually connected — before the TLS handshake, before any byte is sent — so a
  name that resolves (or re-resolves, DNS rebinding) to loopback, a private or link-local network, CGNAT space,
  multicast or reserved space, or an IPv6 form of one of those is refused;
- follows a redirect only to a target that passes the same checks, at most `max_redirects` hops;
- has one deadline for connecting, every redirect and the whole body, and a byte cap enforced while the body
  streams in.

Failures raise `FetchRefused`, whose reason never contains the URL (query strings carry tokens).
"""

from __future__ import annotations

import http.client
import io
import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urljoin, urlsplit

from pydantic import BaseModel, ConfigDict

# A host name (letters, digits, hyphens; at least two labels; a top-level label that starts with a letter, so no IP
# address) or `*.` and one. The template's MediaFetchHosts AllowedPattern admits a comma-separated list of these.
_HOST_PATTERN = re.compile(r"^(\*\.)?([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
_NAT64 = ipaddress.ip_network("64:ff9b::/96")

Resolver = Callable[..., list]


class FetchRefused(Exception):
    """The download was refused or failed; the message says why and names no URL."""


class FetchPolicy(BaseModel):
    """Where downloads may go: host patterns (https, port 443) and exact loopback origins (the local stack's fakes)."""

    model_config = ConfigDict(frozen=True)
    hosts: tuple[str, ...] = ()
    origins: tuple[tuple[str, str, int], ...] = ()

    @classmethod
    def parse(cls, text: str) -> FetchPolicy:
        """From `*.sinaimg.cn,wx1.example.com,http://127.0.0.1:8090`; ValueError for anything else."""
        hosts: list[str] = []
        origins: list[tuple[str, str, int]] = []
        for entry in (e.strip().lower() for e in text.split(",")):
            if "://" in entry:
                origins.append(_origin(entry))
            elif _HOST_PATTERN.match(entry):
                hosts.append(entry)
            else:
                raise ValueError(f"{entry!r} is not a host name, a *.host pattern or an http://127.0.0.1:port origin")
        return cls(hosts=tuple(hosts), origins=tuple(origins))

    def admits(self, scheme: str, host: str, port: int) -> Literal["name", "origin"] | None:
        if (scheme, host, port) in self.origins:
            return "origin"
        if scheme == "https" and port == 443 and any(_matches(p, host) for p in self.hosts):
            return "name"
        return None


def checked_api_base(url: str, service: str) -> str:
    """An API base URL from the environment, if it is one: https (plain http to a loopback address only: the local
    stack's fakes), a host, no user information, query or fragment. The ValueError names `service` and never repeats
    the value, which may hold a token."""
    split = urlsplit(url)
    try:
        _ = split.port
    except ValueError:
        raise ValueError(f"the {service} API base has a malformed port") from None
    try:
        loopback = ipaddress.ip_address(split.hostname or "").is_loopback
    except ValueError:
        loopback = False  # a host name
    if "@" in split.netloc:
        raise ValueError(f"the {service} API base must not hold user information")
    if "?" in url or "#" in url:
        raise ValueError(f"the {service} API base must have no query or fragment (the token goes in its own parameter)")
    if not split.hostname:
        raise ValueError(f"the {service} API base has no host")
    if split.scheme != "https" and not (split.scheme == "http" and loopback):
        raise ValueError(f"the {service} API base must be https (plain http only to a loopback address)")
    return url


def _origin(entry: str) -> tuple[str, str, int]:
    split = urlsplit(entry)
    try:
        port = split.port
        loopback = ipaddress.ip_address(split.hostname or "").is_loopback
    except ValueError:
        port, loopback = None, False
    if split.scheme not in ("http", "https") or split.username or split.query or split.fragment:
        raise ValueError(f"{entry!r}: an origin is http(s)://<loopback address>:<port> and nothing more")
    if not loopback or port is None or split.path not in ("", "/"):
        raise ValueError(f"{entry!r}: an origin is http(s)://<loopback address>:<port> and nothing more")
    return split.scheme, split.hostname, port


def _matches(pattern: str, host: str) -> bool:
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return host == pattern


def is_public_address(ip: str) -> bool:
    """Whether a peer address is on the public internet, judging any IPv4 address an IPv6 one embeds as well."""
    addr = ipaddress.ip_address(ip.split("%", 1)[0])
    judged: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [addr]
    if isinstance(addr, ipaddress.IPv6Address):
        teredo = addr.teredo
        embedded = [addr.ipv4_mapped, addr.sixtofour, teredo[1] if teredo else None]
        if addr in _NAT64:
            embedded.append(ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF))
        judged += [a for a in embedded if a is not None]
    return all(
        a.is_global
        and not (a.is_private or a.is_loopback or a.is_link_local or a.is_multicast or a.is_reserved)
        and not a.is_unspecified
        for a in judged
    )


@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str
    port: int
    path: str
    kind: Literal["name", "origin"]

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == {"http": 80, "https": 443}[self.scheme] else f"{host}:{self.port}"


class MediaFetcher:
    """`fetch(url)` → the body's bytes, within the policy, `max_bytes` and `deadline_s`; else FetchRefused."""

    def __init__(
        self,
        policy: FetchPolicy,
        max_bytes: int,
        deadline_s: float = 10.0,
        max_redirects: int = 3,
        ssl_context: ssl.SSLContext | None = None,
        resolve: Resolver | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy
        self.max_bytes = max_bytes
        self.deadline_s = deadline_s
        self.max_redirects = max_redirects
        self.ssl_context = ssl_context or ssl.create_default_context()
        self._resolve = resolve
        self.clock = clock

    def fetch(self, url: str) -> bytes:
        deadline = self.clock() + self.deadline_s
        for _ in range(self.max_redirects + 1):
            status, location, body = self._get(self._target(url), deadline)
            if status not in _REDIRECTS:
                if status != 200 or body is None:
                    raise FetchRefused(f"HTTP {status}")
                return body
            if not location:
                raise FetchRefused(f"HTTP {status} without a Location")
            url = urljoin(url, location)
        raise FetchRefused(f"more than {self.max_redirects} redirects")

    def _target(self, url: str) -> _Target:
        split = urlsplit(url)
        scheme = split.scheme.lower()
        if scheme not in ("http", "https"):
            raise FetchRefused("not an http(s) link")
        if "@" in split.netloc:
            raise FetchRefused("a link with user information")
        try:
            port = split.port or {"http": 80, "https": 443}[scheme]
        except ValueError:
            raise FetchRefused("a link with a malformed port") from None
        host = (split.hostname or "").rstrip(".")
        kind = self.policy.admits(scheme, host, port)
        if kind is None:
            raise FetchRefused("a host not on the media allow-list" if scheme == "https" else "not an https link")
        path = split.path or "/"
        return _Target(scheme, host, port, f"{path}?{split.query}" if split.query else path, kind)

    def _get(self, target: _Target, deadline: float) -> tuple[int, str | None, bytes | None]:
        sock = self._connect(target, deadline)
        conn = http.client.HTTPConnection(target.host, target.port)  # never connects itself: it is handed `sock`
        conn.sock = _DeadlineSocket(sock, deadline, self.clock)
        try:
            headers = {"Host": target.host_header, "Accept": "image/*", "Accept-Encoding": "identity"}
            conn.request("GET", target.path, headers=headers)
            resp = conn.getresponse()
            if resp.status in _REDIRECTS:
                return resp.status, resp.getheader("Location"), None
            return resp.status, None, self._body(resp) if resp.status == 200 else None
        except TimeoutError:
            raise FetchRefused(f"took longer than {self.deadline_s:g} s") from None
        except (OSError, http.client.HTTPException) as e:
            raise FetchRefused(f"download failed: {type(e).__name__}") from None
        finally:
            sock.close()

    def _connect(self, target: _Target, deadline: float) -> socket.socket:
        resolve = self._resolve or socket.getaddrinfo  # looked up per call, so tests can stand in for DNS
        try:
            addresses = resolve(target.host, target.port, type=socket.SOCK_STREAM)
        except OSError:
            raise FetchRefused("the host name does not resolve") from None
        failure = "no address"
        for family, type_, proto, _, sockaddr in addresses:
            sock = socket.socket(family, type_, proto)
            try:
                sock.settimeout(_remaining(deadline, self.clock))
                sock.connect(sockaddr)
                # The peer of this very socket: what DNS said a moment ago may not be what we reached.
                if not self._peer_allowed(sock.getpeername()[0], target):
                    raise FetchRefused("the host's address is not a public one")
                if target.scheme == "https":
                    return self.ssl_context.wrap_socket(sock, server_hostname=target.host)
                return sock
            except TimeoutError:
                sock.close()
                raise FetchRefused(f"took longer than {self.deadline_s:g} s") from None
            except FetchRefused:
                sock.close()
                raise
            except OSError as e:
                sock.close()
                if isinstance(e, ssl.SSLError):
                    raise FetchRefused(f"download failed: {type(e).__name__}") from None
                failure = type(e).__name__
        raise FetchRefused(f"cannot connect ({failure})")

    @staticmethod
    def _peer_allowed(peer: str, target: _Target) -> bool:
        if target.kind == "origin":  # the local stack's fake: exactly the loopback address it named
            return ipaddress.ip_address(peer.split("%", 1)[0]) == ipaddress.ip_address(target.host)
        return is_public_address(peer)

    def _body(self, resp: http.client.HTTPResponse) -> bytes:
        declared = resp.getheader("Content-Length") or ""
        if declared.isdigit() and int(declared) > self.max_bytes:
            raise FetchRefused(f"larger than {self.max_bytes} bytes")
        chunks: list[bytes] = []
        size = 0
        while chunk := resp.read(64 * 1024):
            size += len(chunk)
            if size > self.max_bytes:
                raise FetchRefused(f"larger than {self.max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)


def _remaining(deadline: float, clock: Callable[[], float]) -> float:
    left = deadline - clock()
    if left <= 0:
        raise TimeoutError("the download's deadline passed")
    return left


class _DeadlineSocket:
    """The socket as http.client uses it (`sendall`, `makefile`), every send and every receive within the deadline:
    a server that trickles a byte at a time cannot stretch a download past it."""

    def __init__(self, sock: socket.socket, deadline: float, clock: Callable[[], float]) -> None:
        self.sock, self.deadline, self.clock = sock, deadline, clock

    def arm(self) -> None:
        self.sock.settimeout(_remaining(self.deadline, self.clock))

    def sendall(self, data: bytes) -> None:
        self.arm()
        self.sock.sendall(data)

    def makefile(self, mode: str = "rb") -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self))

    def close(self) -> None:
        pass  # http.client closes the connection before the body is read; MediaFetcher closes `sock` when done


class _DeadlineReader(io.RawIOBase):
    def __init__(self, owner: _DeadlineSocket) -> None:
        self.owner = owner

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        self.owner.arm()
        return self.owner.sock.recv_into(buffer)
