"""Interop scenario for external components (XEP-0114): slixmpp's ComponentXMPP serves echo.localhost through
xmppd's component port and talks with a slixmpp client; raw sockets try the refusals.

usage: python3 -u slixmpp_component_scenario.py HOST PORT TLS_PORT DOMAIN CA_CERT COMPONENT_PORT

The server is configured with components = echo.localhost=s3cret. Each step prints "ok <step>"; the first failure
prints "FAIL <step>: <why>" and exits 1. Run by Tests/XMPPServerTests/ComponentInteropTests.swift.
"""
import asyncio
import hashlib
import re
import sys

import slixmpp
from slixmpp.componentxmpp import ComponentXMPP
from slixmpp.exceptions import IqError

from slixmpp_scenario import DOMAIN, HOST, SUFFIX, TIMEOUT, Client, fail, next_matching, ok

COMPONENT_PORT = int(sys.argv[6])
COMPONENT = f"echo.{DOMAIN}"
SECRET = "s3cret"


class Echo(ComponentXMPP):
    """Answers every message with the same body, from the JID it was sent to."""

    def __init__(self):
        super().__init__(COMPONENT, SECRET, HOST, COMPONENT_PORT)
        self.register_plugin("xep_0030")
        self.started = asyncio.get_running_loop().create_future()
        self.seen = asyncio.Queue()
        self.add_event_handler("session_start", lambda _: self.started.done() or self.started.set_result(True))
        self.add_event_handler("message", self.echo)

    def echo(self, message):
        self.seen.put_nowait(message)
        if message["type"] in ("chat", "normal") and message["body"]:
            self.send_message(mto=message["from"], mfrom=message["to"], mbody="echo: " + message["body"], mtype="chat")


async def raw_stream(domain, answer):
    """Opens a component stream to `domain`; `answer(stream_id)` is the handshake to send, or None. Returns all it read."""
    reader, writer = await asyncio.open_connection(HOST, COMPONENT_PORT)
    writer.write(f"<stream:stream xmlns='jabber:component:accept' xmlns:stream='http://etherx.jabber.org/streams' "
                 f"to='{domain}'>".encode())
    await writer.drain()
    received = b""
    while b"id=" not in received and b"error" not in received:
        chunk = await asyncio.wait_for(reader.read(4096), TIMEOUT)
        if not chunk:
            break
        received += chunk
    match = re.search(rb"id=['\"]([^'\"]+)['\"]", received)
    if match and answer is not None:
        writer.write(answer(match.group(1).decode()).encode())
        await writer.drain()
    try:
        while True:
            chunk = await asyncio.wait_for(reader.read(4096), TIMEOUT)
            if not chunk:
                break
            received += chunk
    except asyncio.TimeoutError:
        pass
    writer.close()
    return received.decode(errors="replace")


def handshake(stream_id, secret=SECRET):
    return f"<handshake>{hashlib.sha1((stream_id + secret).encode()).hexdigest()}</handshake>"


async def refusals():
    answer = await raw_stream(COMPONENT, lambda stream_id: handshake(stream_id, "wrong"))
    if "not-authorized" not in answer or "</stream:stream>" not in answer:
        fail("wrong secret", answer)
    answer = await raw_stream(f"other.{DOMAIN}", None)
    if "host-unknown" not in answer:
        fail("unknown component", answer)
    forged = lambda stream_id: handshake(stream_id) + f"<message from='someone@{DOMAIN}' to='x@{DOMAIN}'><body>hi</body></message>"
    answer = await raw_stream(COMPONENT, forged)
    if "<handshake" not in answer or "invalid-from" not in answer:
        fail("forged from", answer)
    ok("refused: a wrong secret (not-authorized), an unknown component domain (host-unknown), a stanza from outside "
       "the component's domain (invalid-from)")


async def expect_unavailable(client, step):
    """A request to the component's domain is answered service-unavailable (no component is connected)."""
    try:
        await client.plugin["xep_0030"].get_info(jid=COMPONENT, timeout=TIMEOUT)
        fail(step, "an answer came")
    except IqError as error:
        if error.iq["error"]["condition"] != "service-unavailable":
            fail(step, str(error.iq))


async def main():
    alice = Client(f"comp-alice-{SUFFIX}", "wonderland", register=True)
    await alice.login()
    alice_jid = alice.boundjid.full
    echo = Echo()
    echo.connect()
    await asyncio.wait_for(echo.started, TIMEOUT)
    ok("slixmpp's ComponentXMPP connects with its handshake")

    items = await alice.plugin["xep_0030"].get_items(jid=DOMAIN, timeout=TIMEOUT)
    if COMPONENT not in [item[0] for item in items["disco_items"]["items"]]:
        fail("disco", str(items))
    ok("the component's domain is listed in the server's disco#items")

    alice.send_message(mto=f"bot@{COMPONENT}", mbody="hello", mtype="chat")
    got = await next_matching(alice.messages, lambda m: m["body"] == "echo: hello", "the echo comes back")
    if got["from"].bare != f"bot@{COMPONENT}":
        fail("echo", str(got))
    seen = await asyncio.wait_for(echo.seen.get(), TIMEOUT)
    if seen["from"].full != alice_jid:
        fail("from", f"the component saw {seen['from']}, expected {alice_jid}")
    ok("a user's message reaches the component from their full JID; the component's answer reaches the user")

    info = await echo.plugin["xep_0030"].get_info(jid=DOMAIN, ifrom=COMPONENT, timeout=TIMEOUT)
    if "msgoffline" not in info["disco_info"]["features"]:
        fail("server disco from the component", str(info))
    echo.send_presence(pto=alice_jid, pfrom=f"bot@{COMPONENT}", pstatus="gatewaying")
    presence = await next_matching(alice.presences, lambda p: p["from"].bare == f"bot@{COMPONENT}", "the component's presence")
    if presence["status"] != "gatewaying":
        fail("presence", str(presence))
    ok("the component asks the server (disco#info) and gets the answer; it sends presence to a user")

    echo.disconnect()
    await asyncio.sleep(0.5)
    await expect_unavailable(alice, "disconnected component")
    ok("while the component is away, requests to its domain get service-unavailable")
    await refusals()
    await expect_unavailable(alice, "after a refused stream")
    await alice.logout()
    print("scenario complete", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
