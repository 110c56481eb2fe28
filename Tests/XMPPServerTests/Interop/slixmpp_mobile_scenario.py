"""Interop scenario for what mobile clients need: slixmpp's own XEP-0198, XEP-0280, XEP-0313 and XEP-0352 plugins
against a running xmppd.

usage: python3 -u slixmpp_mobile_scenario.py HOST PORT TLS_PORT DOMAIN CA_CERT

Each step prints "ok <step>"; the first failure prints "FAIL <step>: <why>" and exits 1. Run by
Tests/XMPPServerTests/SlixmppInteropTests.swift; shares the client class of slixmpp_scenario.py.
"""
import asyncio

import slixmpp

from slixmpp_scenario import DOMAIN, HOST, SUFFIX, TIMEOUT, Client, fail, next_matching, ok

MOBILE_PLUGINS = ["xep_0059", "xep_0198", "xep_0280", "xep_0297", "xep_0313", "xep_0352", "xep_0359"]


class MobileClient(Client):
    """The scenario's client with the mobile plugins, recording carbons and stream-management events."""

    def __init__(self, user, password, register=False, resource="interop"):
        super().__init__(user, password, register=register, resource=resource)
        for plugin in MOBILE_PLUGINS:
            self.register_plugin(plugin)
        self.carbons = asyncio.Queue()
        self.resumed = asyncio.Queue()
        self.add_event_handler("carbon_received", lambda m: self.carbons.put_nowait(("received", m)))
        self.add_event_handler("carbon_sent", lambda m: self.carbons.put_nowait(("sent", m)))
        self.add_event_handler("session_resumed", lambda s: self.resumed.put_nowait(s))


async def carbons(phone, laptop, bob, alice_jid, bob_jid):
    for client in (phone, laptop):
        await client.plugin["xep_0280"].enable(timeout=TIMEOUT)
    bob.send_message(mto=f"{alice_jid}/phone", mbody="to your phone", mtype="chat")
    await next_matching(phone.messages, lambda m: m["body"] == "to your phone", "the phone gets bob's message")
    kind, carbon = await asyncio.wait_for(laptop.carbons.get(), TIMEOUT)
    if kind != "received" or carbon["from"] != slixmpp.JID(alice_jid) or carbon["carbon_received"]["body"] != "to your phone":
        fail("received carbon", f"{kind} {carbon}")
    ok("carbons: the laptop gets a received copy from alice's bare JID")
    phone.send_message(mto=bob_jid, mbody="from my phone", mtype="chat")
    await next_matching(bob.messages, lambda m: m["body"] == "from my phone", "bob gets alice's message")
    kind, carbon = await asyncio.wait_for(laptop.carbons.get(), TIMEOUT)
    if kind != "sent" or carbon["carbon_sent"]["body"] != "from my phone" or carbon["carbon_sent"]["to"].bare != bob_jid:
        fail("sent carbon", f"{kind} {carbon}")
    ok("carbons: the laptop gets a sent copy")


async def archive(phone, alice_jid, bob_jid):
    messages = [m async for m in phone.plugin["xep_0313"].iterate(with_jid=slixmpp.JID(bob_jid), rsm={"max": 2})]
    bodies = [m["mam_result"]["forwarded"]["stanza"]["body"] for m in messages]
    if bodies[:2] != ["to your phone", "from my phone"]:
        fail("archive", f"bodies {bodies}")
    ids = [m["mam_result"]["id"] for m in messages]
    if len(set(ids)) != len(ids) or not all(ids):
        fail("archive ids", str(ids))
    ok(f"archive: slixmpp pages through {len(bodies)} messages with bob, both directions, in order")


async def stream_management(phone, bob, alice_jid, bob_jid):
    sm = phone.plugin["xep_0198"]
    if not sm.sm_id:
        fail("stream management", "not enabled with resumption")
    ok("stream management enabled with resumption")
    # The network goes: the connection is reset under the client.
    phone.transport.abort()
    await asyncio.sleep(0.3)
    bob.send_message(mto=f"{alice_jid}/phone", mbody="while you were gone", mtype="chat")
    await asyncio.sleep(0.3)
    phone.connect(HOST, phone.port)
    await asyncio.wait_for(phone.resumed.get(), TIMEOUT)
    got = await next_matching(phone.messages, lambda m: m["body"] == "while you were gone", "replayed after resumption")
    if got["to"].resource != "phone":
        fail("resumption", str(got))
    ok("stream management: a reset connection resumes and the message sent meanwhile arrives")


async def client_state(phone, bob, alice_jid):
    csi = phone.plugin["xep_0352"]
    csi.send_inactive()
    # <inactive/> is never answered; the server takes a connection's input in order, so once a ping sent after it
    # is answered, the session is inactive (a fixed sleep was too short on a loaded machine).
    await phone.plugin["xep_0199"].ping(jid=slixmpp.JID(DOMAIN), timeout=TIMEOUT)
    while not phone.presences.empty():
        phone.presences.get_nowait()
    for show in ["away", "xa", "dnd"]:
        bob.send_presence(pshow=show, pto=f"{alice_jid}/phone")
    # Likewise bob's ping answered: his presence has reached the phone's session (held or written).
    await bob.plugin["xep_0199"].ping(jid=slixmpp.JID(DOMAIN), timeout=TIMEOUT)
    await asyncio.sleep(0.5)
    if not phone.presences.empty():
        fail("client state", "presence written to an inactive client")
    csi.send_active()
    latest = await next_matching(phone.presences, lambda p: p["from"].bare == bob.boundjid.bare, "held presence after active")
    if latest["show"] != "dnd":
        fail("client state", f"got {latest['show']}, not the latest")
    ok("client state: presence held while inactive, only the latest written on active")


async def main():
    alice_name, bob_name = f"mob-alice-{SUFFIX}", f"mob-bob-{SUFFIX}"
    alice_jid, bob_jid = f"{alice_name}@{DOMAIN}", f"{bob_name}@{DOMAIN}"
    phone = MobileClient(alice_name, "wonderland", register=True, resource="phone")
    await phone.login()
    bob = MobileClient(bob_name, "builder", register=True, resource="desk")
    await bob.login()
    laptop = MobileClient(alice_name, "wonderland", resource="laptop")
    await laptop.login()
    ok("three mobile clients logged in")
    await carbons(phone, laptop, bob, alice_jid, bob_jid)
    await archive(phone, alice_jid, bob_jid)
    await stream_management(phone, bob, alice_jid, bob_jid)
    await client_state(phone, bob, alice_jid)
    for client in (phone, laptop, bob):
        await client.logout()
    print("scenario complete", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
