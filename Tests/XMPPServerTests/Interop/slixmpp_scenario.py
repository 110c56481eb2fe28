"""Interop scenario: real slixmpp clients against a running xmppd.

usage: python3 -u slixmpp_scenario.py HOST PORT TLS_PORT DOMAIN CA_CERT

Each step prints "ok <step>"; the first failure prints "FAIL <step>: <why>" and exits 1.
Run by Tests/XMPPServerTests/SlixmppInteropTests.swift against a server on an ephemeral loopback port.
"""
import asyncio
import socket
import sys
import uuid

import slixmpp

HOST, PORT, TLS_PORT, DOMAIN, CA = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
TIMEOUT = 10
SUFFIX = uuid.uuid4().hex[:6]


def fail(step, why):
    print(f"FAIL {step}: {why}", flush=True)
    sys.exit(1)


def ok(step):
    print(f"ok {step}", flush=True)


class Client(slixmpp.ClientXMPP):
    """A slixmpp client that records what it receives in queues."""

    def __init__(self, user, password, register=False, resource="interop", direct_tls=False, mechanism="SCRAM-SHA-256"):
        super().__init__(f"{user}@{DOMAIN}/{resource}", password, sasl_mech=mechanism)
        self.user, self.password = user, password
        self.ca_certs = CA
        self.enable_direct_tls = direct_tls
        self.enable_starttls = not direct_tls
        self.port = TLS_PORT if direct_tls else PORT
        self.auto_authorize = None
        self.auto_subscribe = False
        self.messages = asyncio.Queue()
        self.presences = asyncio.Queue()
        self.subscriptions = asyncio.Queue()
        self.started = asyncio.get_event_loop().create_future()
        for plugin in ["xep_0030", "xep_0054", "xep_0077", "xep_0199", "xep_0203"]:
            self.register_plugin(plugin)
        if register:
            self.plugin["xep_0077"].force_registration = True
            self.add_event_handler("register", self.on_register)
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("failed_auth", lambda _: self.settle(RuntimeError("failed_auth")))
        self.add_event_handler("message", lambda m: self.messages.put_nowait(m))
        self.add_event_handler("presence", lambda p: self.presences.put_nowait(p))
        self.add_event_handler("presence_subscribe", lambda p: self.subscriptions.put_nowait(p))
        self.add_event_handler("presence_subscribed", lambda p: self.subscriptions.put_nowait(p))

    def settle(self, value):
        if not self.started.done():
            if isinstance(value, Exception):
                self.started.set_exception(value)
            else:
                self.started.set_result(value)

    async def on_register(self, _):
        iq = self.Iq()
        iq["type"] = "set"
        iq["register"]["username"] = self.user
        iq["register"]["password"] = self.password
        try:
            await iq.send(timeout=TIMEOUT)
        except Exception as error:  # noqa: BLE001
            self.settle(RuntimeError(f"registration failed: {error}"))

    async def on_start(self, _):
        await self.get_roster(timeout=TIMEOUT)
        self.send_presence()
        self.settle(self.plugin["feature_mechanisms"].mech.name)

    async def login(self):
        self.connect(HOST, self.port)
        return await asyncio.wait_for(self.started, TIMEOUT)

    async def logout(self):
        self.disconnect()
        await asyncio.wait_for(self.disconnected, TIMEOUT)


async def next_matching(queue, predicate, what):
    async def loop():
        while True:
            item = await queue.get()
            if predicate(item):
                return item
    try:
        return await asyncio.wait_for(loop(), TIMEOUT)
    except asyncio.TimeoutError:
        fail(what, "timed out")


async def main():
    alice_name, bob_name = f"alice{SUFFIX}", f"bob{SUFFIX}"
    alice_jid, bob_jid = f"{alice_name}@{DOMAIN}", f"{bob_name}@{DOMAIN}"

    # In-band registration (XEP-0077), then login over STARTTLS with SCRAM-SHA-256.
    alice, bob = Client(alice_name, "wonderland", register=True), Client(bob_name, "builder", register=True)
    for client in (alice, bob):
        try:
            mechanism = await client.login()
        except Exception as error:  # noqa: BLE001
            fail("register and login", error)
        if mechanism != "SCRAM-SHA-256":
            fail("register and login", f"mechanism {mechanism}")
        if not client.is_connected() or client.socket is None or not hasattr(client.socket, "version"):
            fail("register and login", "stream is not encrypted")
    ok("register and login over STARTTLS with SCRAM-SHA-256")

    # Mutual subscription (RFC 6121 §3).
    alice.send_presence(pto=bob_jid, ptype="subscribe")
    await next_matching(bob.subscriptions, lambda p: p["type"] == "subscribe" and p["from"].bare == alice_jid, "bob sees alice's request")
    bob.send_presence(pto=alice_jid, ptype="subscribed")
    bob.send_presence(pto=alice_jid, ptype="subscribe")
    await next_matching(alice.subscriptions, lambda p: p["type"] == "subscribed" and p["from"].bare == bob_jid, "alice approved")
    await next_matching(alice.subscriptions, lambda p: p["type"] == "subscribe" and p["from"].bare == bob_jid, "alice sees bob's request")
    alice.send_presence(pto=bob_jid, ptype="subscribed")
    await next_matching(bob.subscriptions, lambda p: p["type"] == "subscribed" and p["from"].bare == alice_jid, "bob approved")
    await asyncio.sleep(0.5)
    for me, other in ((alice, bob_jid), (bob, alice_jid)):
        # The roster as kept by the client from the initial fetch and the server's pushes.
        if other not in me.client_roster:
            fail("mutual subscription", f"{other} missing from {me.boundjid.bare}'s roster")
        if me.client_roster[other]["subscription"] != "both":
            fail("mutual subscription", f"{me.boundjid.bare} has {me.client_roster[other]['subscription']} for {other}")
    fresh = Client(alice_name, "wonderland", resource="second")
    await fresh.login()
    if fresh.client_roster[bob_jid]["subscription"] != "both":
        fail("mutual subscription", "a fresh login of alice does not see bob with subscription both")
    await fresh.logout()
    ok("mutual subscription, both rosters say both")

    # Presence: bob changes his presence and alice sees it.
    bob.send_presence(pshow="away", pstatus="at lunch")
    await next_matching(alice.presences, lambda p: p["from"].bare == bob_jid and p["show"] == "away" and p["status"] == "at lunch", "alice sees bob away")
    ok("presence broadcast to subscribers")

    # One-to-one chat.
    alice.send_message(mto=bob_jid, mbody="Hello Bob", mtype="chat")
    message = await next_matching(bob.messages, lambda m: m["body"] == "Hello Bob", "bob receives")
    if message["from"] != alice.boundjid:
        fail("chat", f"from is {message['from']}, not {alice.boundjid}")
    bob.send_message(mto=message["from"], mbody="Hi Alice", mtype="chat")
    await next_matching(alice.messages, lambda m: m["body"] == "Hi Alice", "alice receives the reply")
    ok("chat messages both ways, from stamped with the full JID")

    # Offline storage: bob leaves, alice writes, bob comes back and gets the messages with delay stamps.
    await bob.logout()
    await next_matching(alice.presences, lambda p: p["from"].bare == bob_jid and p["type"] == "unavailable", "alice sees bob leave")
    alice.send_message(mto=bob_jid, mbody="first while away", mtype="chat")
    alice.send_message(mto=bob_jid, mbody="second while away", mtype="chat")
    await asyncio.sleep(0.5)
    bob = Client(bob_name, "builder")
    await bob.login()
    first = await next_matching(bob.messages, lambda m: m["body"] == "first while away", "offline message 1")
    await next_matching(bob.messages, lambda m: m["body"] == "second while away", "offline message 2")
    if not first["delay"]["stamp"]:
        fail("offline messages", "no delay stamp")
    ok("offline messages delivered on return, with XEP-0203 delay")

    # vCard round trip (XEP-0054).
    vcard = alice.plugin["xep_0054"].make_vcard()
    vcard["FN"] = "Alice Liddell"
    vcard["NICKNAME"] = "alice"
    await alice.plugin["xep_0054"].publish_vcard(vcard, timeout=TIMEOUT)
    fetched = await bob.plugin["xep_0054"].get_vcard(slixmpp.JID(alice_jid), cached=False, timeout=TIMEOUT)
    if fetched["vcard_temp"]["FN"] != "Alice Liddell":
        fail("vcard", f"got {fetched}")
    ok("vCard published by alice, read by bob")

    # Service discovery and ping.
    info = await alice.plugin["xep_0030"].get_info(jid=DOMAIN, timeout=TIMEOUT)
    features = info["disco_info"]["features"]
    for needed in ["urn:xmpp:ping", "vcard-temp", "jabber:iq:version"]:
        if needed not in features:
            fail("disco", f"{needed} missing from {features}")
    await alice.plugin["xep_0199"].ping(jid=slixmpp.JID(DOMAIN), timeout=TIMEOUT)
    ok("disco#info and ping to the server")

    # Password change (XEP-0077), then login with the new password; the old one fails.
    await bob.plugin["xep_0077"].change_password("rebuilt", timeout=TIMEOUT)
    await bob.logout()
    renewed = Client(bob_name, "rebuilt")
    await renewed.login()
    await renewed.logout()
    stale = Client(bob_name, "builder")
    try:
        await stale.login()
        fail("password change", "the old password still works")
    except RuntimeError as error:
        if "failed_auth" not in str(error):
            fail("password change", error)
    stale.disconnect()
    ok("password changed; new password works, old one is refused")

    # A bad password gets a SASL failure.
    wrong = Client(alice_name, "not-the-password")
    try:
        await wrong.login()
        fail("bad password", "login succeeded")
    except RuntimeError as error:
        if "failed_auth" not in str(error):
            fail("bad password", error)
    wrong.disconnect()
    ok("bad password refused with a SASL failure")

    # Malformed XML gets the not-well-formed stream error.
    with socket.create_connection((HOST, PORT), timeout=TIMEOUT) as raw:
        raw.sendall(f"<?xml version='1.0'?><stream:stream to='{DOMAIN}' version='1.0' xmlns='jabber:client' "
                    "xmlns:stream='http://etherx.jabber.org/streams'><message><body></message>".encode())
        received = b""
        while b"</stream:stream>" not in received:
            chunk = raw.recv(4096)
            if not chunk:
                break
            received += chunk
    if b"<not-well-formed xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>" not in received:
        fail("malformed XML", received.decode(errors="replace"))
    ok("malformed XML closed with not-well-formed")

    # Direct TLS (XEP-0368) on the second port, letting slixmpp choose its mechanism.
    direct = Client(alice_name, "wonderland", resource="direct", direct_tls=True, mechanism=None)
    mechanism = await direct.login()
    await direct.logout()
    ok(f"direct TLS login, slixmpp chose {mechanism}")

    await alice.logout()
    print("scenario complete", flush=True)


asyncio.run(main())
