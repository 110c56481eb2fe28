"""Interop scenario for the SOCKS5 bytestreams proxy (XEP-0065): slixmpp's xep_0065 plugin discovers xmppd's proxy,
negotiates a stream from one client to another through it and sends 300 kB; raw SOCKS5 connections try the refusals.

usage: python3 -u slixmpp_proxy_scenario.py HOST PORT TLS_PORT DOMAIN CA_CERT

Each step prints "ok <step>"; the first failure prints "FAIL <step>: <why>" and exits 1. Run by
Tests/XMPPServerTests/ProxyInteropTests.swift.
"""
import asyncio
import hashlib
import os
import uuid

import slixmpp
from slixmpp.exceptions import IqError

from slixmpp_scenario import DOMAIN, SUFFIX, TIMEOUT, Client, fail, ok

PROXY = f"proxy.{DOMAIN}"


class ProxyClient(Client):
    def __init__(self, user, password, register=False, resource="interop"):
        super().__init__(user, password, register=register, resource=resource)
        self.register_plugin("xep_0065")
        self.plugin["xep_0065"].auto_accept = True
        self.received = bytearray()
        self.closed = asyncio.Event()
        self.add_event_handler("socks5_data", lambda data: self.received.extend(data))
        self.add_event_handler("socks5_closed", lambda _: self.closed.set())


async def socks5(host, port, address, then=b""):
    """A raw SOCKS5 CONNECT to `address`; returns the replies and whether the proxy closed the connection."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(bytes([5, 1, 0]))
    method = await asyncio.wait_for(reader.readexactly(2), TIMEOUT)
    writer.write(bytes([5, 1, 0, 3, len(address)]) + address.encode() + bytes([0, 0]) + then)
    await writer.drain()
    answer = b""
    closed = False
    try:
        while True:
            chunk = await asyncio.wait_for(reader.read(100), 2)
            if not chunk:
                closed = True
                break
            answer += chunk
    except asyncio.TimeoutError:
        pass
    writer.close()
    return method, answer, closed


async def main():
    alice = ProxyClient(f"px-alice-{SUFFIX}", "wonderland", register=True)
    bob = ProxyClient(f"px-bob-{SUFFIX}", "builder", register=True)
    await alice.login()
    await bob.login()
    proxies = await alice.plugin["xep_0065"].discover_proxies(timeout=TIMEOUT)
    if slixmpp.JID(PROXY) not in proxies and PROXY not in [str(p) for p in proxies]:
        fail("discovery", str(proxies))
    host, port = list(proxies.values())[0]
    ok(f"slixmpp discovers the proxy {PROXY} and its streamhost {host}:{port}")

    payload = os.urandom(300_000)
    stream = await alice.plugin["xep_0065"].handshake(bob.boundjid, timeout=TIMEOUT)
    if stream is None:
        fail("handshake", "no stream")
    ok("a stream from alice to bob is negotiated and activated through the proxy")
    for offset in range(0, len(payload), 16_384):
        await stream.write(payload[offset:offset + 16_384])
    for _ in range(300):
        if len(bob.received) >= len(payload):
            break
        await asyncio.sleep(0.1)
    if hashlib.sha256(bytes(bob.received)).digest() != hashlib.sha256(payload).digest():
        fail("transfer", f"bob got {len(bob.received)} of {len(payload)} bytes, or other bytes")
    stream.transport.close()
    await asyncio.wait_for(bob.closed.wait(), TIMEOUT)
    ok("300 kB arrive intact, and closing one side closes the other")

    try:
        await alice.plugin["xep_0065"].activate(PROXY, uuid.uuid4().hex, bob.boundjid, timeout=TIMEOUT)
        fail("unpaired activation", "accepted")
    except IqError as error:
        if error.iq["error"]["condition"] != "item-not-found":
            fail("unpaired activation", str(error.iq))
    method, answer, closed = await socks5(host, port, "not-a-destination-address")
    if method != bytes([5, 0]) or answer[:2] != bytes([5, 1]) or not closed:
        fail("bad address", f"{method} {answer} closed={closed}")
    address = hashlib.sha1(b"never-activated").hexdigest()
    method, answer, closed = await socks5(host, port, address, then=b"too early")
    if answer[:2] != bytes([5, 0]) or not closed:
        fail("data before activation", f"{answer} closed={closed}")
    ok("refused: activating a stream nobody connected for (item-not-found), a SOCKS5 address that is no hash, "
       "data before activation")
    for client in (alice, bob):
        await client.logout()
    print("scenario complete", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
