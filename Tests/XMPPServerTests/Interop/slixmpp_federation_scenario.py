"""Federation scenario: slixmpp clients on two servers (two xmppd domains, or xmppd and another server) talk across
server-to-server streams.

usage: python3 -u slixmpp_federation_scenario.py HOST PORT_A TLS_PORT_A DOMAIN_A CA_A PORT_B DOMAIN_B CA_B S2S_PORT_B
                                                [UNREACHABLE STALL_PORT]

DOMAIN_A is an xmppd. With SAME_SERVER=1 in the environment, DOMAIN_B is a virtual host of the same xmppd (PORT_B
is PORT_A): a remote server claiming DOMAIN_A is then refused outright rather than asked about. UNREACHABLE is a domain DOMAIN_A's s2s_hosts sends to a closed port; stall.test is sent to
STALL_PORT, where this script accepts connections and never answers. Each step prints
"ok <step>"; the first failure prints "FAIL <step>: <why>" and exits 1. Run by
Tests/XMPPServerTests/FederationInteropTests.swift.
"""
import asyncio
import os
import ssl
import sys

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout

from slixmpp_scenario import DOMAIN as DOMAIN_A, HOST, SUFFIX, TIMEOUT, Client, fail, next_matching, ok

PORT_B, DOMAIN_B, CA_B = int(sys.argv[6]), sys.argv[7], sys.argv[8]
S2S_PORT_B = int(sys.argv[9])
UNREACHABLE = sys.argv[10] if len(sys.argv) > 10 else None
STALL_PORT = int(sys.argv[11]) if len(sys.argv) > 11 else None
PASSWORD = "secret-" + SUFFIX
NICK = "http://jabber.org/protocol/nick"
SAME_SERVER = os.environ.get("SAME_SERVER") == "1"


class FederatedClient(Client):
    """The scenario's client, interested in its contacts' nicknames (XEP-0172 over PEP: +notify caps)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for plugin in ["xep_0060", "xep_0115", "xep_0163", "xep_0172"]:
            self.register_plugin(plugin)
        self.events = asyncio.Queue()
        self.add_event_handler("user_nick_publish", lambda message: self.events.put_nowait(message))
        self.available = asyncio.Event()
        self.add_event_handler("presence", self.on_presence)

    def on_presence(self, presence):
        if presence["from"] == self.boundjid and presence["type"] not in ("unavailable", "error"):
            self.available.set()

    async def until_available(self):
        # A message from the other server can reach this client's server before that has taken the initial presence
        # sent just before it: the message is then for an account with no available resource and goes to offline
        # storage, racing the presence that reads it out (the likely cause of "bob gets alice's message: timed out"
        # with ejabberd, once in CI). The server sends the initial presence back once it has taken it (RFC 6121
        # §4.2.2): from then on, messages to the bare JID are for this resource.
        try:
            await asyncio.wait_for(self.available.wait(), TIMEOUT / 2)  # within login()'s own TIMEOUT
        except asyncio.TimeoutError:
            self.settle(RuntimeError(f"{self.boundjid.full} never got its own initial presence back"))

    async def on_start(self, _):
        self.plugin["xep_0163"].add_interest([NICK])
        await self.plugin["xep_0115"].update_caps(broadcast=False)
        await super().on_start(_)


def user_of_a(name, register=False):
    return FederatedClient(name, PASSWORD, register=register, resource="fed")


def user_of_b(name, register=False):
    # SCRAM-SHA-1: what Prosody 0.12 offers (xmppd too).
    return FederatedClient(name, PASSWORD, register=register, resource="fed", mechanism="SCRAM-SHA-1", domain=DOMAIN_B,
                           port=PORT_B, ca=CA_B)


async def relogin(client):
    """Logs `client` out and the same account in again, as a new client (its queues start empty)."""
    await client.logout()
    again = user_of_b(client.user) if client.boundjid.domain == DOMAIN_B else user_of_a(client.user)
    await again.login()
    return again


async def chat(alice, bob):
    alice.send_message(mto=f"{bob.user}@{DOMAIN_B}", mbody="hello across servers", mtype="chat")
    got = await next_matching(bob.messages, lambda m: m["body"] == "hello across servers", "bob gets alice's message")
    if got["from"] != alice.boundjid.full or got["type"] != "chat":
        fail("chat", f"from {got['from']} type {got['type']}")
    bob.send_message(mto=got["from"], mbody="hello back", mtype="chat")
    got = await next_matching(alice.messages, lambda m: m["body"] == "hello back", "alice gets bob's reply")
    if got["from"] != bob.boundjid.full:
        fail("reply", f"from {got['from']}")
    ok("chat both ways between a user of each server (to the bare JID, the reply to the full JID)")


async def subscriptions(alice, bob):
    alice_bare, bob_bare = alice.boundjid.bare, bob.boundjid.bare
    alice.send_presence(pto=bob_bare, ptype="subscribe")
    request = await next_matching(bob.subscriptions, lambda p: p["type"] == "subscribe", "bob gets alice's request")
    if request["from"].full != alice_bare:
        fail("subscribe", f"from {request['from']}")
    bob.send_presence(pto=alice_bare, ptype="subscribed")
    await next_matching(alice.subscriptions, lambda p: p["type"] == "subscribed" and p["from"].bare == bob_bare,
                        "alice hears bob approved")
    await next_matching(alice.presences, lambda p: p["from"].full == bob.boundjid.full and p["type"] == "available",
                        "alice gets bob's presence once subscribed")
    bob.send_presence(pto=alice_bare, ptype="subscribe")
    await next_matching(alice.subscriptions, lambda p: p["type"] == "subscribe" and p["from"].bare == bob_bare,
                        "alice gets bob's request")
    alice.send_presence(pto=bob_bare, ptype="subscribed")
    await next_matching(bob.presences, lambda p: p["from"].full == alice.boundjid.full and p["type"] == "available",
                        "bob gets alice's presence once subscribed")
    await asyncio.sleep(0.5)
    for client, contact in [(alice, bob_bare), (bob, alice_bare)]:
        if client.client_roster[contact]["subscription"] != "both":
            fail("roster", f"{client.boundjid.bare}'s roster item for {contact}: {client.client_roster[contact]['subscription']}")
    ok("subscriptions both ways across servers: requests, approvals, presence, subscription=both in the roster")


async def presence_lifecycle(alice, bob):
    alice = await relogin(alice)
    await next_matching(bob.presences, lambda p: p["from"].bare == alice.boundjid.bare and p["type"] == "unavailable",
                        "bob sees alice go offline")
    # Alice's server probes bob's server on her initial presence; bob's server answers with his presence.
    await next_matching(alice.presences, lambda p: p["from"].full == bob.boundjid.full and p["type"] == "available",
                        "alice gets bob's presence from the probe")
    ok("presence across servers: unavailable on logout, the probe at login answered with the contact's presence")
    return alice


async def iq_requests(alice, bob):
    await alice.plugin["xep_0199"].ping(jid=bob.boundjid.full, timeout=TIMEOUT)
    await bob.plugin["xep_0054"].publish_vcard(slixmpp.plugins.xep_0054.stanza.VCardTemp(), timeout=TIMEOUT)
    vcard = bob.plugin["xep_0054"].stanza.VCardTemp()
    vcard["FN"] = "Bob of " + DOMAIN_B
    await bob.plugin["xep_0054"].publish_vcard(vcard, timeout=TIMEOUT)
    got = await alice.plugin["xep_0054"].get_vcard(jid=bob.boundjid.bare, cached=False, local=False, timeout=TIMEOUT)
    if got["vcard_temp"]["FN"] != "Bob of " + DOMAIN_B:
        fail("vcard", str(got))
    info = await alice.plugin["xep_0030"].get_info(jid=DOMAIN_B, timeout=TIMEOUT)
    if not info["disco_info"]["identities"]:
        fail("disco", str(info))
    try:
        await alice.plugin["xep_0030"].get_info(jid=f"{bob.user}@{DOMAIN_B}/gone", timeout=TIMEOUT)
        fail("iq to a missing resource", "an answer came")
    except IqError as error:
        if error.iq["error"]["condition"] != "service-unavailable":
            fail("iq to a missing resource", str(error.iq))
    ok("IQs across servers: ping to a full JID, the contact's vCard from its server, the remote server's disco#info, "
       "service-unavailable for a missing resource")


async def personal_eventing(alice, bob):
    for publisher, listener, name in [(alice, bob, "Ally of " + DOMAIN_A), (bob, alice, "Bobby of " + DOMAIN_B)]:
        await publisher.plugin["xep_0172"].publish_nick(name, timeout=TIMEOUT)
        got = await next_matching(listener.events, lambda m: m["from"].bare == publisher.boundjid.bare,
                                  f"{listener.boundjid.bare} hears the nickname of {publisher.boundjid.bare}")
        if got["pubsub_event"]["items"]["item"]["nick"]["nick"] != name:
            fail("nickname across servers", str(got))
    ok("PEP across servers: a nickname (XEP-0172) published on each side reaches the contact on the other, "
       "whose server learned its +notify caps over federation")


async def offline(alice, bob):
    await bob.logout()
    await next_matching(alice.presences, lambda p: p["from"].bare == bob.boundjid.bare and p["type"] == "unavailable",
                        "alice sees bob go offline")
    alice.send_message(mto=bob.boundjid.bare, mbody="while you were away", mtype="chat")
    # A ping to bob's server follows the message over the same server-to-server stream, and servers take a stream's
    # stanzas in order: once it is answered, the message has been stored (the second is only a margin).
    try:
        await alice.plugin["xep_0199"].ping(jid=slixmpp.JID(bob.boundjid.domain), timeout=TIMEOUT)
    except (IqError, IqTimeout):
        pass
    await asyncio.sleep(1)
    bob = user_of_b(bob.user)
    await bob.login()
    got = await next_matching(bob.messages, lambda m: m["body"] == "while you were away", "bob gets the offline message")
    if got["from"].bare != alice.boundjid.bare or not got["delay"]["stamp"]:
        fail("offline", str(got))
    ok("a message to a contact who is offline is stored by the contact's server and delivered with a delay stamp")
    return bob


async def rooms(alice, bob):
    room = f"fed-{SUFFIX}@conference.{DOMAIN_B}"
    await bob.plugin["xep_0045"].join_muc_wait(slixmpp.JID(room), "bob", timeout=TIMEOUT, maxchars=0)
    form = await bob.plugin["xep_0045"].get_room_config(slixmpp.JID(room))
    await bob.plugin["xep_0045"].set_room_config(slixmpp.JID(room), form)
    await alice.plugin["xep_0045"].join_muc_wait(slixmpp.JID(room), "alice", timeout=TIMEOUT, maxchars=0)
    bob.send_message(mto=room, mbody="welcome, remote guest", mtype="groupchat")
    got = await next_matching(alice.groupchat, lambda m: m["body"] == "welcome, remote guest", "alice hears bob in the room")
    if got["from"] != f"{room}/bob":
        fail("room", f"from {got['from']}")
    alice.send_message(mto=room, mbody="thanks", mtype="groupchat")
    await next_matching(bob.groupchat, lambda m: m["body"] == "thanks" and m["from"] == f"{room}/alice",
                        "bob hears alice in the room")
    ok("a user of one server joins a room on the other and both talk in it")


async def refusals(alice):
    if UNREACHABLE:
        alice.send_message(mto=f"nobody@{UNREACHABLE}", mbody="anyone?", mtype="chat")
        got = await next_matching(alice.messages, lambda m: m["type"] == "error" and m["from"].domain == UNREACHABLE,
                                  "the bounce from an unreachable domain")
        if got["error"]["condition"] != "remote-server-not-found":
            fail("unreachable", str(got))
    if STALL_PORT:
        accepted = []
        silent = await asyncio.start_server(lambda reader, writer: accepted.append(writer), HOST, STALL_PORT)
        alice.send_message(mto="nobody@stall.test", mbody="hello?", mtype="chat")
        got = await next_matching(alice.messages, lambda m: m["type"] == "error" and m["from"].domain == "stall.test",
                                  "the bounce from a server that never answers")
        if got["error"]["condition"] != "remote-server-timeout":
            fail("stalled", str(got))
        # Within s2s_retry_seconds the route is not tried again: the next message bounces at once, with no new connection.
        started = asyncio.get_running_loop().time()
        alice.send_message(mto="nobody@stall.test", mbody="still there?", mtype="chat")
        got = await next_matching(alice.messages, lambda m: m["type"] == "error" and m["from"].domain == "stall.test",
                                  "the second bounce from the stalled domain")
        silent.close()
        if got["error"]["condition"] != "remote-server-timeout" or len(accepted) != 1 \
                or asyncio.get_running_loop().time() - started > 3:  # a new attempt would wait s2s_setup_seconds (3)
            fail("retry memory", f"{got['error']['condition']}, {len(accepted)} connections, "
                                 f"{asyncio.get_running_loop().time() - started:.1f} s")
    # A server claiming DOMAIN_A's name without its key: dialback says invalid, and nothing it sends is taken.
    if SAME_SERVER:
        # Both domains are this server's: they never dial each other, so nobody may claim either over s2s.
        answer = await raw_s2s(DOMAIN_A, key="0" * 64, then=None, until=b"forbidden")
        if "forbidden" not in answer:
            fail("dialback for the server's other domain", answer)
    else:
        answer = await raw_s2s(DOMAIN_A, key="0" * 64, then=None)
        if "type='invalid'" not in answer and 'type="invalid"' not in answer:
            fail("forged dialback", answer)
    answer = await raw_s2s(DOMAIN_A, key=None, then=f"<message from='mallory@{DOMAIN_A}' to='x@{DOMAIN_B}'><body>x</body></message>")
    if "invalid-from" not in answer:
        fail("stanza before dialback", answer)
    # Nobody else speaks for the server's own service domains, whatever DNS says.
    answer = await raw_s2s(f"conference.{DOMAIN_B}", key="0" * 64, then=None, until=b"forbidden")
    if "forbidden" not in answer:
        fail("dialback for the server's own room service", answer)
    # A claimed domain whose server cannot be asked gets an error, not a verdict on its key (XEP-0220 §2.4).
    answer = await raw_s2s(UNREACHABLE, key="0" * 64, then=None, until=b"remote-server-timeout")
    if "type='error'" not in answer or "remote-server-timeout" not in answer:
        fail("dialback for an unreachable domain", answer)
    # Key checks only over TLS, like dialback requests.
    answer = await raw_s2s(DOMAIN_A, key=None, then=f"<db:verify from='{DOMAIN_A}' to='{DOMAIN_B}' id='x'>00</db:verify>", tls=False)
    if "policy-violation" not in answer:
        fail("db:verify before STARTTLS", answer)
    # A connection that authenticates nothing is closed after s2s_setup_seconds (3 s in this test).
    answer = await raw_s2s(DOMAIN_A, key=None, then=None)
    if "connection-timeout" not in answer:
        fail("idle unauthenticated stream", answer)
    # Even a connection that never opens a stream gets its error inside one.
    reader, writer = await asyncio.open_connection(HOST, S2S_PORT_B)
    silent = b""
    try:
        while b"</stream:stream>" not in silent:
            chunk = await asyncio.wait_for(reader.read(4096), TIMEOUT)
            if not chunk:
                break
            silent += chunk
    finally:
        writer.close()
    if not silent.startswith(b"<?xml") or b"<stream:stream" not in silent or b"connection-timeout" not in silent:
        fail("silent connection", silent.decode(errors="replace"))
    # Users of another server join rooms here but do not create them.
    alice.send_presence(pto=f"new-{SUFFIX}@conference.{DOMAIN_B}/alice")
    got = await next_matching(alice.presences, lambda p: p["type"] == "error" and p["from"].bare == f"new-{SUFFIX}@conference.{DOMAIN_B}",
                              "the refusal to create a room from another server")
    if got["error"]["condition"] != "not-allowed":
        fail("remote room creation", str(got))
    ok("refused: an unreachable domain (remote-server-not-found), a server that never answers (remote-server-timeout, "
       "and at once without a new connection while s2s_retry_seconds run), "
       "a forged dialback key (invalid), a stanza from a domain the stream did not authenticate (invalid-from), dialback "
       "for the server's own service domain (forbidden), dialback for a domain that cannot be asked (error), db:verify "
       "before STARTTLS (policy-violation), a stream that authenticates nothing (connection-timeout), a room created by a "
       "user of another server (not-allowed)")


async def raw_s2s(claimed, key, then, until=b"</stream:stream>", tls=True):
    """Opens a server-to-server stream to DOMAIN_B claiming to be `claimed`, with STARTTLS, sends a dialback request
    with `key` (if any) and then `then` (if any); returns everything read until the server closes the stream."""
    reader, writer = await asyncio.open_connection(HOST, S2S_PORT_B)
    header = (f"<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
              f"xmlns:db='jabber:server:dialback' from='{claimed}' to='{DOMAIN_B}' version='1.0'>")

    async def read_until(marker):
        data = b""
        while marker not in data:
            chunk = await asyncio.wait_for(reader.read(4096), TIMEOUT)
            if not chunk:
                break
            data += chunk
        return data.decode(errors="replace")

    writer.write(header.encode())
    received = await read_until(b"</stream:features>")
    if tls:
        writer.write(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        await read_until(b"proceed")
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        await writer.start_tls(context)
        writer.write(header.encode())
        received = await read_until(b"</stream:features>")
    if key is not None:
        writer.write(f"<db:result from='{claimed}' to='{DOMAIN_B}'>{key}</db:result>".encode())
    if then is not None:
        writer.write(then.encode())
    try:
        received += await read_until(until)
    except asyncio.TimeoutError:
        pass
    writer.close()
    return received


async def main():
    alice = user_of_a(f"alice-{SUFFIX}", register=True)
    bob = user_of_b(f"bob-{SUFFIX}", register=True)
    await alice.login()
    await bob.login()
    await chat(alice, bob)
    await subscriptions(alice, bob)
    alice = await presence_lifecycle(alice, bob)
    await iq_requests(alice, bob)
    await personal_eventing(alice, bob)
    bob = await offline(alice, bob)
    await rooms(alice, bob)
    if UNREACHABLE:
        # Against an xmppd on both sides: the refusals are xmppd's own behaviour.
        await refusals(alice)
    await alice.logout()
    await bob.logout()
    print("scenario complete", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
