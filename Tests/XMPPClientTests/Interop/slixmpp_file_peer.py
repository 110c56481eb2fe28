"""A slixmpp client that sends or receives one file by stream initiation (XEP-0095/0096), over SOCKS5 bytestreams
(XEP-0065, through the server's proxy) or in-band bytestreams (XEP-0047): the peer of
Tests/XMPPClientTests/FileTransferInteropTests.swift.

usage: python3 -u slixmpp_file_peer.py HOST PORT DOMAIN CA USER PASSWORD MODE METHOD PEER PATH
  MODE receive: wait for an offer, accept it, write the bytes to PATH; prints "received N SHA256HEX"
  MODE send:    offer PATH to PEER (a full JID) with only METHOD (socks5 or ibb) and send it; prints "sent N"
Exits 1 with "FAIL <why>" on failure.
"""
import asyncio
import hashlib
import os
import sys
import uuid

import slixmpp
from slixmpp.plugins.xep_0096 import File
from slixmpp.xmlstream.handler import CoroutineCallback
from slixmpp.xmlstream.matcher import StanzaPath

HOST, PORT, DOMAIN, CA, USER, PASSWORD, MODE, METHOD, PEER, PATH = sys.argv[1:11]
TIMEOUT = 60
NAMESPACES = {"socks5": "http://jabber.org/protocol/bytestreams", "ibb": "http://jabber.org/protocol/ibb"}


def fail(why):
    print(f"FAIL {why}", flush=True)
    os._exit(1)


class Peer(slixmpp.ClientXMPP):
    def __init__(self):
        super().__init__(f"{USER}@{DOMAIN}/peer", PASSWORD)
        self.ca_certs = CA
        for plugin in ["xep_0030", "xep_0020", "xep_0047", "xep_0065", "xep_0095", "xep_0096"]:
            self.register_plugin(plugin)
        # slixmpp 1.8 registers its coroutine SI request handler as a plain callback, so it never runs: register it
        # as a coroutine (the plugin's own code, unchanged).
        self.remove_handler("SI Request")
        self.register_handler(CoroutineCallback("SI Request", StanzaPath("iq@type=set/si"), self.plugin["xep_0095"]._handle_request))
        self.started = asyncio.get_event_loop().create_future()
        self.received = bytearray()
        self.done = asyncio.get_event_loop().create_future()
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("failed_auth", lambda _: fail("login failed"))
        self.add_event_handler("si_request", self.on_offer)
        self.add_event_handler("socks5_data", lambda data: self.received.extend(data))
        self.add_event_handler("socks5_closed", lambda _: self.finish())
        self.add_event_handler("ibb_stream_data", self.on_ibb_data)
        self.add_event_handler("ibb_stream_end", lambda _: self.finish())

    async def on_start(self, _):
        self.send_presence()
        if not self.started.done():
            self.started.set_result(None)

    async def on_offer(self, iq):
        print(f"offer {iq['si']['file']['name']} {iq['si']['file']['size']}", flush=True)
        await self.plugin["xep_0095"].accept(iq["from"], iq["si"]["id"], ifrom=iq["to"])

    def on_ibb_data(self, stream):
        while not stream.recv_queue.empty():
            self.received.extend(stream.recv_queue.get_nowait())

    def finish(self):
        if not self.done.done():
            self.done.set_result(None)


async def receive(peer):
    await asyncio.wait_for(peer.done, TIMEOUT)
    with open(PATH, "wb") as file:
        file.write(peer.received)
    print(f"received {len(peer.received)} {hashlib.sha256(peer.received).hexdigest()}", flush=True)


async def send(peer):
    with open(PATH, "rb") as file:
        data = file.read()
    sid = uuid.uuid4().hex
    payload = File()
    payload["name"] = os.path.basename(PATH)
    payload["size"] = len(data)
    # (The plugin's offer() takes the options as dicts: with plain strings, its default, it fails.)
    answer = await peer.plugin["xep_0095"].offer(slixmpp.JID(PEER), sid=sid, profile=File.namespace,
                                                 methods=[{"value": NAMESPACES[METHOD]}], payload=payload, timeout=TIMEOUT)
    chosen = answer["si"]["feature_neg"]["form"]["values"]["stream-method"]
    if chosen != NAMESPACES[METHOD]:
        fail(f"the peer chose {chosen}")
    if METHOD == "ibb":
        stream = await peer.plugin["xep_0047"].open_stream(slixmpp.JID(PEER), sid=sid, timeout=TIMEOUT)
        await stream.sendall(data, timeout=TIMEOUT)
        await stream.close(timeout=TIMEOUT)
    else:
        socket = await peer.plugin["xep_0065"].handshake(slixmpp.JID(PEER), sid=sid, timeout=TIMEOUT)
        if socket is None:
            fail("no SOCKS5 connection")
        await socket.write(data)
        await asyncio.sleep(0.5)
        socket.transport.close()
    print(f"sent {len(data)}", flush=True)


async def main():
    peer = Peer()
    peer.connect(HOST, int(PORT))
    await asyncio.wait_for(peer.started, TIMEOUT)
    print("ready", flush=True)
    if MODE == "receive":
        await receive(peer)
    else:
        await send(peer)
    await asyncio.sleep(0.5)
    peer.disconnect()
    os._exit(0)


asyncio.run(main())
