"""Where a webhook may go: http(s) only, and every address the host resolves to must be public
(private, loopback, link-local, reserved, multicast and other non-global ranges are refused) unless
the host is in WEBHOOK_ALLOWED_HOSTS. A send resolves once, checks, and connects to exactly the
checked address (`pinned_session`), keeping the URL's host name for the Host header, TLS SNI and the
certificate check — so a DNS answer that changes between the check and the connection (rebinding)
cannot redirect it."""
from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

import requests
from flask import current_app
from requests.adapters import HTTPAdapter


def blocked(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    mapped = getattr(ip, "ipv4_mapped", None)
    if mapped is not None:
        ip = mapped
    # not is_global also covers shared address space (100.64.0.0/10, carrier-grade NAT) and the like
    return (not ip.is_global or ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_reserved
            or ip.is_multicast or ip.is_unspecified)


def check_target(url: str) -> str | None:
    """Why this URL may not be called (None when it may): http(s) only; every address the host
    resolves to must be public unless the host is allowlisted."""
    return resolve_target(url)[0]


def resolve_target(url: str) -> tuple[str | None, str | None]:
    """(why the URL may not be called, the checked address to connect to). Resolves once, so the
    connection goes where the check looked (no DNS rebinding in between). Allowlisted hosts are not
    resolved here: they may point anywhere and connect as usual (no address)."""
    try:
        parts = urlsplit(str(url or ""))
        port = parts.port
    except ValueError:
        return "is not a valid URL", None
    if parts.scheme not in ("http", "https"):
        return "must start with http:// or https://", None
    host = (parts.hostname or "").lower()
    if not host:
        return "has no host", None
    if host in current_app.config["WEBHOOK_ALLOWED_HOSTS"]:
        return None, None
    try:
        infos = socket.getaddrinfo(host, port or (443 if parts.scheme == "https" else 80), proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        return f"host {host} cannot be resolved", None
    addresses = [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]
    for ip in addresses:
        if blocked(ip):
            return (f"{host} resolves to {ip}, a private, loopback, link-local or reserved address "
                    "(allow the host in WEBHOOK_ALLOWED_HOSTS if it is meant)"), None
    return None, str(addresses[0])  # the resolver's first choice; the others are not tried


class PinnedAdapter(HTTPAdapter):
    """Connects to one address while the URL's host name stays in the Host header, the TLS SNI and
    the certificate check."""

    def __init__(self, address: str):
        super().__init__()
        self.address = address

    def build_connection_pool_key_attributes(self, request, verify, cert=None):
        host_params, pool_kwargs = super().build_connection_pool_key_attributes(request, verify, cert)
        if host_params["scheme"] == "https":
            pool_kwargs.update(server_hostname=host_params["host"], assert_hostname=host_params["host"])
        host_params["host"] = self.address
        return host_params, pool_kwargs

    def add_headers(self, request, **kwargs):
        request.headers["Host"] = urlsplit(request.url).netloc.rpartition("@")[2]


def pinned_session(address: str | None) -> requests.Session:
    """A session whose connections go to `address` (None: resolved as usual, for allowlisted hosts)."""
    session = requests.Session()
    if address:
        adapter = PinnedAdapter(address)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
    return session
