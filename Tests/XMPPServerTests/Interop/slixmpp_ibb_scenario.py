"""Interop scenario for in-band bytestreams (XEP-0047) through xmppd: slixmpp's xep_0047 plugin sends 10 MB from one
client to another as IQs, within the sender's read rate, while two other users chat: their messages keep arriving
quickly, and the 10 MB arrive intact.

usage: python3 -u slixmpp_ibb_scenario.py HOST PORT TLS_PORT DOMAIN CA_CERT

The server runs with read_rate = 2097152 (2 MiB/s per connection). Each step prints "ok <step>"; the first failure
prints "FAIL <step>: <why>" and exits 1. Run by Tests/XMPPServerTests/IBBInteropTests.swift.
"""
import asyncio
import hashlib
import os
import time

from slixmpp_scenario import DOMAIN, SUFFIX, TIMEOUT, Client, fail, next_matching, ok

SIZE = 10 * 1024 * 1024
BLOCK = 4096


class IBBClient(Client):
    def __init__(self, user, password, register=False, resource="interop"):
        super().__init__(user, password, register=register, resource=resource)
        self.register_plugin("xep_0047")
        self.plugin["xep_0047"].auto_accept = True
        self.received = bytearray()
        self.stream_started = asyncio.Event()
        self.add_event_handler("ibb_stream_start", lambda stream: self.stream_started.set())
        self.add_event_handler("ibb_stream_data", self.on_data)

    def on_data(self, stream):
        while not stream.recv_queue.empty():
            self.received.extend(stream.recv_queue.get_nowait())


async def chat_meanwhile(carol, dave, dave_jid, stop, delays):
    """Carol writes to Dave every 100 ms; the time each message takes to arrive is recorded."""
    count = 0
    while not stop.is_set():
        count += 1
        body = f"meanwhile {count}"
        sent = time.monotonic()
        carol.send_message(mto=dave_jid, mbody=body, mtype="chat")
        await next_matching(dave.messages, lambda m, body=body: m["body"] == body, "a chat message during the transfer")
        delays.append(time.monotonic() - sent)
        await asyncio.sleep(0.1)


async def main():
    alice = IBBClient(f"ibb-alice-{SUFFIX}", "wonderland", register=True)
    bob = IBBClient(f"ibb-bob-{SUFFIX}", "builder", register=True)
    carol = Client(f"ibb-carol-{SUFFIX}", "carol", register=True)
    dave = Client(f"ibb-dave-{SUFFIX}", "dave", register=True)
    for client in (alice, bob, carol, dave):
        await client.login()
    ok("four slixmpp clients logged in")

    payload = os.urandom(SIZE)
    stop = asyncio.Event()
    delays = []
    chatting = asyncio.create_task(chat_meanwhile(carol, dave, dave.boundjid.full, stop, delays))
    started = time.monotonic()
    stream = await alice.plugin["xep_0047"].open_stream(bob.boundjid, block_size=BLOCK, timeout=TIMEOUT)
    await asyncio.wait_for(bob.stream_started.wait(), TIMEOUT)
    await asyncio.wait_for(stream.sendall(payload), 300)
    for _ in range(300):
        if len(bob.received) >= SIZE:
            break
        await asyncio.sleep(0.1)
    seconds = time.monotonic() - started
    stop.set()
    await chatting
    if hashlib.sha256(bytes(bob.received)).digest() != hashlib.sha256(payload).digest():
        fail("transfer", f"bob got {len(bob.received)} of {SIZE} bytes, or other bytes")
    ok(f"10 MB in {SIZE // BLOCK} IBB blocks arrive intact ({seconds:.1f} s, {SIZE / seconds / 1e6:.2f} MB/s)")
    # The median shows whether the transfer starves others; the slowest only a gross stall (all four clients share
    # this process's one event loop, which a loaded machine can hold up for seconds).
    median = sorted(delays)[len(delays) // 2] if delays else 0
    if len(delays) < 5 or median > 1.0 or max(delays) > 10.0:
        fail("fairness", f"{len(delays)} chat messages during the transfer, median {median:.2f} s, slowest {max(delays or [0]):.2f} s")
    ok(f"meanwhile {len(delays)} chat messages between two other users arrived, median {median * 1000:.0f} ms, "
       f"the slowest in {max(delays) * 1000:.0f} ms")
    await stream.close()
    for client in (alice, bob, carol, dave):
        await client.logout()
    print("scenario complete", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
