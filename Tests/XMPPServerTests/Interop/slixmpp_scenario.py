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
# Generous: the full test suite runs everything at once on two cores, and a login can wait seconds for a CPU.
TIMEOUT = 30
SUFFIX = uuid.uuid4().hex[:6]


def fail(step, why):
    print(f"FAIL {step}: {why}", flush=True)
    sys.exit(1)


def ok(step):
    print(f"ok {step}", flush=True)


class Client(slixmpp.ClientXMPP):
    """A slixmpp client that records what it receives in queues."""

    def __init__(self, user, password, register=False, resource="interop", direct_tls=False, mechanism="SCRAM-SHA-256",
                 domain=None, port=None, ca=None):
        """`domain`, `port` (STARTTLS) and `ca` name another server than the one on the command line."""
        super().__init__(f"{user}@{domain or DOMAIN}/{resource}", password, sasl_mech=mechanism)
        self.user, self.password = user, password
        self.ca_certs = ca or CA
        self.enable_direct_tls = direct_tls
        self.enable_starttls = not direct_tls
        self.port = port or (TLS_PORT if direct_tls else PORT)
        self.auto_authorize = None
        self.auto_subscribe = False
        self.messages = asyncio.Queue()
        self.presences = asyncio.Queue()
        self.subscriptions = asyncio.Queue()
        self.started = asyncio.get_event_loop().create_future()
        self.groupchat = asyncio.Queue()
        self.room_presences = asyncio.Queue()
        self.blocklist_pushes = asyncio.Queue()
        for plugin in ["xep_0004", "xep_0030", "xep_0045", "xep_0054", "xep_0077", "xep_0191", "xep_0199", "xep_0203"]:
            self.register_plugin(plugin)
        if register:
            self.plugin["xep_0077"].force_registration = True
            self.add_event_handler("register", self.on_register)
        self.add_event_handler("session_start", self.on_start)
        self.add_event_handler("failed_auth", lambda _: self.settle(RuntimeError("failed_auth")))
        self.add_event_handler("message", lambda m: self.messages.put_nowait(m))
        self.add_event_handler("presence", lambda p: self.presences.put_nowait(p))
        self.add_event_handler("groupchat_message", lambda m: self.groupchat.put_nowait(m))
        self.add_event_handler("groupchat_presence", lambda p: self.room_presences.put_nowait(p))
        self.add_event_handler("presence_subscribe", lambda p: self.subscriptions.put_nowait(p))
        self.add_event_handler("presence_subscribed", lambda p: self.subscriptions.put_nowait(p))
        self.add_event_handler("blocked", lambda iq: self.blocklist_pushes.put_nowait(("block", iq)))
        self.add_event_handler("unblocked", lambda iq: self.blocklist_pushes.put_nowait(("unblock", iq)))

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
        await self.until_available()
        self.settle(self.plugin["feature_mechanisms"].mech.name)

    async def until_available(self):
        """Waits, once the initial presence is sent, until the client may count on its server having made it
        available; this client does not wait (a subclass may)."""

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


async def blocking(alice, bob, alice_jid, bob_jid):
    """XEP-0191 with slixmpp's own plugin: block, what both sides see, the blocklist push, unblock."""
    blocking_a = alice.plugin["xep_0191"]
    info = await alice.plugin["xep_0030"].get_info(jid=DOMAIN, timeout=TIMEOUT)
    if "urn:xmpp:blocking" not in info["disco_info"]["features"]:
        fail("blocking disco", "urn:xmpp:blocking not advertised")
    if await blocking_a.get_blocked_jids(timeout=TIMEOUT) != set():
        fail("blocklist", "not empty at first")
    await blocking_a.block(slixmpp.JID(bob_jid), timeout=TIMEOUT)
    kind, push = await asyncio.wait_for(alice.blocklist_pushes.get(), TIMEOUT)
    if kind != "block" or [str(item["jid"]) for item in push["block"]] != [bob_jid]:
        fail("blocklist push", f"{kind} {push}")
    await next_matching(bob.presences, lambda p: p["from"].bare == alice_jid and p["type"] == "unavailable", "bob sees alice go")
    if await blocking_a.get_blocked_jids(timeout=TIMEOUT) != {slixmpp.JID(bob_jid)}:
        fail("blocklist", "bob is not listed")
    ok("blocking: alice blocks bob, gets the push, bob sees her unavailable")

    reply = bob.make_message(mto=alice_jid, mbody="are you there?", mtype="chat")
    bob.send(reply)
    bounced = await next_matching(bob.messages, lambda m: m["type"] == "error", "bob's message bounces")
    if bounced["error"]["condition"] != "service-unavailable":
        fail("blocked inbound", str(bounced))
    alice.send_message(mto=bob_jid, mbody="you should not get this", mtype="chat")
    refused = await next_matching(alice.messages, lambda m: m["type"] == "error", "alice's message refused")
    if refused["error"]["condition"] != "not-acceptable" or refused.xml.find(".//{urn:xmpp:blocking:errors}blocked") is None:
        fail("blocked outbound", str(refused))
    ok("blocking: bob's message gets service-unavailable, alice's gets not-acceptable with <blocked/>")

    await blocking_a.unblock(slixmpp.JID(bob_jid), timeout=TIMEOUT)
    await next_matching(bob.presences, lambda p: p["from"].bare == alice_jid and p["type"] == "available", "bob sees alice again")
    alice.send_message(mto=bob_jid, mbody="sorry, I'm back", mtype="chat")
    await next_matching(bob.messages, lambda m: m["body"] == "sorry, I'm back", "bob receives after unblock")
    ok("blocking: unblock brings alice's presence back and messages flow")


async def multi_user_chat(alice, bob, alice_jid, bob_jid):
    """XEP-0045 with slixmpp's own plugin: create, configure, chat, moderate, invite, destroy."""
    service = f"conference.{DOMAIN}"
    room = slixmpp.JID(f"tea{SUFFIX}@{service}")
    muc_a, muc_b = alice.plugin["xep_0045"], bob.plugin["xep_0045"]
    items = await alice.plugin["xep_0030"].get_items(jid=DOMAIN, timeout=TIMEOUT)
    if service not in [item[0] for item in items["disco_items"]["items"]]:
        fail("muc service", f"{service} not in the server's disco#items")

    presence, _, _, _ = await muc_a.join_muc_wait(room, "Alice", timeout=TIMEOUT)
    if not {110, 201} <= presence["muc"]["status_codes"] or presence["muc"]["affiliation"] != "owner":
        fail("muc create", f"self-presence {presence}")
    form = await muc_a.get_room_config(room, timeout=TIMEOUT)
    form.set_values({"muc#roomconfig_roomname": "Tea Room", "muc#roomconfig_persistentroom": True})
    await muc_a.set_room_config(room, form, timeout=TIMEOUT)
    info = await alice.plugin["xep_0030"].get_info(jid=room, timeout=TIMEOUT)
    if "muc_persistent" not in info["disco_info"]["features"]:
        fail("muc configure", f"features {info['disco_info']['features']}")
    ok("muc room created, configured with slixmpp's form, disco says persistent")

    alice.send_message(mto=room, mbody="before you came", mtype="groupchat")
    await next_matching(alice.groupchat, lambda m: m["body"] == "before you came", "alice sees her reflection")
    _, subject, occupants, history = await muc_b.join_muc_wait(room, "Bob", maxstanzas=5, timeout=TIMEOUT)
    if [m["body"] for m in history] != ["before you came"]:
        fail("muc history", f"history {[str(m) for m in history]}")
    if sorted(p["from"].resource for p in occupants) != ["Alice", "Bob"]:
        fail("muc join", f"occupants {[str(p['from']) for p in occupants]}")
    bob.send_message(mto=room, mbody="hi all", mtype="groupchat")
    reflected = await next_matching(alice.groupchat, lambda m: m["body"] == "hi all", "alice sees bob's message")
    if reflected["from"] != slixmpp.JID(f"{room}/Bob") or reflected.xml.find("{urn:xmpp:sid:0}stanza-id") is None:
        fail("muc message", str(reflected))
    bob.send_message(mto=slixmpp.JID(f"{room}/Alice"), mbody="psst", mtype="chat")
    await next_matching(alice.messages, lambda m: m["body"] == "psst" and m["from"].resource == "Bob", "private message")
    ok("muc history on join, groupchat reflected with a stanza-id, private message")

    await muc_a.set_role(room, "Bob", "none", reason="too loud", timeout=TIMEOUT)
    kicked = await next_matching(bob.room_presences, lambda p: p["from"] == slixmpp.JID(f"{room}/Bob") and p["type"] == "unavailable", "bob kicked")
    if 307 not in kicked["muc"]["status_codes"]:
        fail("muc kick", str(kicked))
    await muc_a.set_affiliation(room, "outcast", jid=bob_jid, timeout=TIMEOUT)
    try:
        await muc_b.join_muc_wait(room, "Bob", timeout=TIMEOUT)
        fail("muc ban", "a banned user entered")
    except slixmpp.exceptions.PresenceError as error:
        if error.condition != "forbidden":
            fail("muc ban", error.condition)
    outcasts = await muc_a.get_affiliation_list(room, "outcast", timeout=TIMEOUT)
    if [str(jid) for jid in outcasts] != [bob_jid]:
        fail("muc ban list", outcasts)
    ok("muc kick (307), ban keeps bob out (forbidden), outcast list")

    await muc_a.set_affiliation(room, "none", jid=bob_jid, timeout=TIMEOUT)
    muc_a.invite(room, bob_jid, "come back")
    # slixmpp raises groupchat_invite only for rooms it does not believe it is in, and it keeps a room after a
    # kick, so the invitation is read from the plain message stream.
    invitation = await next_matching(bob.messages, lambda m: m["from"] == room and m["muc"]["invite"]["from"], "bob invited")
    if invitation["muc"]["invite"]["reason"] != "come back":
        fail("muc invite", str(invitation))
    await muc_b.join_muc_wait(room, "Bob", timeout=TIMEOUT)
    await muc_a.destroy(room, reason="closing time", timeout=TIMEOUT)
    gone = await next_matching(bob.room_presences, lambda p: p["from"].bare == room and p["type"] == "unavailable", "bob sees the room end")
    if gone.xml.find("{http://jabber.org/protocol/muc#user}x/{http://jabber.org/protocol/muc#user}destroy") is None:
        fail("muc destroy", str(gone))
    try:
        await alice.plugin["xep_0030"].get_info(jid=room, timeout=TIMEOUT)
        fail("muc destroy", "the room still answers")
    except slixmpp.exceptions.IqError as error:
        if error.condition != "item-not-found":
            fail("muc destroy", error.condition)
    ok("muc invitation, rejoin, destruction with reason")


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

    await blocking(alice, bob, alice_jid, bob_jid)
    await multi_user_chat(alice, bob, alice_jid, bob_jid)

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


if __name__ == "__main__":
    asyncio.run(main())
