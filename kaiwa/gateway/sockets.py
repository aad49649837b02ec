"""Who listens on a loopback port, before kaiwa sends a key or a prompt there (Linux: /proc/net/tcp{,6}).

A port on 127.0.0.1 is open to every user of the machine: whoever binds it first answers. kaiwa talks to a server
it did not configure only when the listening socket belongs to the user (or root, who can read the user's files
anyway), and to its own gateway only when the socket is held by the very process it started. Stdlib only.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass
from pathlib import Path

LISTEN = "0A"  # the TCP state column of a listening socket


@dataclass(frozen=True)
class Listener:
    address: str  # "127.0.0.1", "::1", "0.0.0.0", "::"
    uid: int
    inode: int


def _address(hex_address: str) -> str:
    raw = bytes.fromhex(hex_address)
    if len(raw) == 4:
        return socket.inet_ntop(socket.AF_INET, raw[::-1])
    # /proc prints an IPv6 address as four 32-bit words, each in host (little-endian) order.
    return socket.inet_ntop(socket.AF_INET6, b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4)))


def _reachable_from_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified


def listeners(port: int) -> list[Listener] | None:
    """Every socket listening on `port` that a connection to localhost could reach; None where the system cannot
    say (no /proc/net)."""
    found: list[Listener] = []
    readable = False
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        readable = True
        for line in lines:
            fields = line.split()
            if len(fields) < 10 or fields[3] != LISTEN:
                continue
            hex_address, _, hex_port = fields[1].partition(":")
            if int(hex_port, 16) != port:
                continue
            address = _address(hex_address)
            if _reachable_from_loopback(address):
                found.append(Listener(address, int(fields[7]), int(fields[9])))
    return found if readable else None


def stranger(port: int) -> Listener | None:
    """A listener on `port` that runs as another user (not the user, not root), if any."""
    trusted = {os.getuid(), 0}
    return next((entry for entry in listeners(port) or [] if entry.uid not in trusted), None)


def _socket_inodes(pid: int) -> set[int]:
    inodes: set[int] = set()
    try:
        fds = list(Path(f"/proc/{pid}/fd").iterdir())
    except OSError:
        return inodes
    for fd in fds:
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(int(target[8:-1]))
    return inodes


def held_by(port: int, pid: int) -> bool:
    """Every listener on `port` is a socket of process `pid` (and there is one). True where the system cannot say."""
    found = listeners(port)
    if found is None:
        return True
    if not found:
        return False
    inodes = _socket_inodes(pid)
    return all(entry.inode in inodes for entry in found)


def trusted_host(port: int) -> str | None:
    """The loopback address to reach a trusted listener on `port` by (so a stranger binding the other address family
    later is not reached through "localhost"), or None where the system cannot say."""
    found = listeners(port)
    if not found:
        return None
    families = {ipaddress.ip_address(entry.address).version for entry in found}
    return "127.0.0.1" if 4 in families else "[::1]"
