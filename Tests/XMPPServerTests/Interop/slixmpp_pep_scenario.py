"""Interop scenario for PEP and pubsub: slixmpp's XEP-0060, XEP-0163, XEP-0084, XEP-0153, XEP-0172, XEP-0049,
XEP-0048 and XEP-0402 plugins against xmppd.

usage: python3 -u slixmpp_pep_scenario.py HOST PORT TLS_PORT DOMAIN CA_CERT
Each step prints "ok <step>"; the first failure prints "FAIL <step>: <why>" and exits 1. Run by
Tests/XMPPServerTests/SlixmppInteropTests.swift.
"""
import asyncio
import base64
import hashlib

from slixmpp.exceptions import IqError
from slixmpp.plugins.xep_0402.stanza import Conference

from slixmpp_scenario import DOMAIN, SUFFIX, TIMEOUT, Client, fail, next_matching, ok

AVATAR_METADATA = "urn:xmpp:avatar:metadata"
NICK = "http://jabber.org/protocol/nick"
BOOKMARKS = "urn:xmpp:bookmarks:1"
SERVICE = f"pubsub.{DOMAIN}"


class PEPClient(Client):
    """The scenario's client with the PEP family of plugins, interested in avatars and nicknames."""

    def __init__(self, user, password, register=False):
        super().__init__(user, password, register=register)
        for plugin in ["xep_0060", "xep_0115", "xep_0163", "xep_0084", "xep_0153", "xep_0172", "xep_0049", "xep_0048"]:
            self.register_plugin(plugin)
        self.events = asyncio.Queue()
        for event in ["avatar_metadata_publish", "user_nick_publish", "pubsub_publish"]:
            self.add_event_handler(event, lambda message, event=event: self.events.put_nowait((event, message)))

    async def on_start(self, _):
        self.plugin["xep_0163"].add_interest([AVATAR_METADATA, NICK])
        await self.plugin["xep_0115"].update_caps(broadcast=False)
        await super().on_start(_)


async def befriend(alice, bob):
    alice_jid, bob_jid = alice.boundjid.bare, bob.boundjid.bare
    alice.send_presence(pto=bob_jid, ptype="subscribe")
    await next_matching(bob.subscriptions, lambda p: p["type"] == "subscribe", "bob sees alice's request")
    bob.send_presence(pto=alice_jid, ptype="subscribed")
    bob.send_presence(pto=alice_jid, ptype="subscribe")
    await next_matching(alice.subscriptions, lambda p: p["type"] == "subscribe", "alice sees bob's request")
    alice.send_presence(pto=bob_jid, ptype="subscribed")
    await asyncio.sleep(0.5)


def event_from(sender, name):
    return lambda item: item[0] == name and item[1]["from"].bare == sender


async def main():
    alice = PEPClient(f"pep-alice-{SUFFIX}", "pw", register=True)
    bob = PEPClient(f"pep-bob-{SUFFIX}", "pw", register=True)
    await alice.login()
    await bob.login()
    await befriend(alice, bob)
    alice_jid, bob_jid = alice.boundjid.bare, bob.boundjid.bare
    ok("alice and bob are contacts, with +notify caps")

    await alice.plugin["xep_0172"].publish_nick("Ally", timeout=TIMEOUT)
    _, message = await next_matching(bob.events, event_from(alice_jid, "user_nick_publish"), "bob hears alice's nickname")
    if message["pubsub_event"]["items"]["item"]["nick"]["nick"] != "Ally":
        fail("nickname", str(message))
    ok("a nickname published in PEP reaches the contact (XEP-0172)")

    image = bytes(range(256)) * 4
    avatar_id = hashlib.sha1(image).hexdigest()
    await alice.plugin["xep_0084"].publish_avatar(image, timeout=TIMEOUT)
    await alice.plugin["xep_0084"].publish_avatar_metadata(
        [{"id": avatar_id, "type": "image/png", "bytes": len(image)}], timeout=TIMEOUT)
    _, message = await next_matching(bob.events, event_from(alice_jid, "avatar_metadata_publish"), "bob hears of the avatar")
    info = message["pubsub_event"]["items"]["item"]["avatar_metadata"]["items"]
    if not info or info[0]["id"] != avatar_id:
        fail("avatar metadata", str(message))
    data = await bob.plugin["xep_0084"].retrieve_avatar(alice_jid, avatar_id, timeout=TIMEOUT)
    if data["pubsub"]["items"]["item"]["avatar_data"]["value"] != image:
        fail("avatar data", "the bytes differ")
    ok("a PEP avatar is announced and fetched (XEP-0084)")

    vcard = await bob.plugin["xep_0054"].get_vcard(alice_jid, cached=False, timeout=TIMEOUT)
    if vcard["vcard_temp"]["PHOTO"]["BINVAL"] != image:
        fail("pep to vcard", "alice's vCard has no photo, or another one")
    ok("the PEP avatar is alice's vCard photo (XEP-0398)")

    bob_image = b"bob's face" * 50
    await bob.plugin["xep_0153"].set_avatar(avatar=bob_image, mtype="image/jpeg", timeout=TIMEOUT)
    _, message = await next_matching(alice.events, event_from(bob_jid, "avatar_metadata_publish"), "alice hears of bob's vCard photo")
    info = message["pubsub_event"]["items"]["item"]["avatar_metadata"]["items"]
    if not info or info[0]["id"] != hashlib.sha1(bob_image).hexdigest() or info[0]["type"] != "image/jpeg":
        fail("vcard to pep", str(message))
    ok("a vCard photo (XEP-0153) appears as a PEP avatar")

    node = f"news-{SUFFIX}"
    await alice.plugin["xep_0060"].create_node(SERVICE, node, timeout=TIMEOUT)
    await bob.plugin["xep_0060"].subscribe(SERVICE, node, timeout=TIMEOUT)
    payload = Conference()  # any namespaced payload will do
    payload["name"] = "headline"
    await alice.plugin["xep_0060"].publish(SERVICE, node, id="first", payload=payload, timeout=TIMEOUT)
    await next_matching(bob.events, lambda item: item[0] == "pubsub_publish" and item[1]["from"] == SERVICE, "bob's notification")
    items = await bob.plugin["xep_0060"].get_items(SERVICE, node, timeout=TIMEOUT)
    if [item["id"] for item in items["pubsub"]["items"]] != ["first"]:
        fail("service items", str(items))
    try:
        await bob.plugin["xep_0060"].delete_node(SERVICE, node, timeout=TIMEOUT)
        fail("service delete", "bob deleted alice's node")
    except IqError as error:
        if error.condition != "forbidden":
            fail("service delete", error.condition)
    await alice.plugin["xep_0060"].delete_node(SERVICE, node, timeout=TIMEOUT)
    ok("the pubsub service: create, subscribe, publish, notify, items, only the owner deletes")

    storage = alice.plugin["xep_0048"].stanza.Bookmarks()
    storage.add_conference(f"tea@conference.{DOMAIN}", "Ally", name="Tea", autojoin=True)
    await alice.plugin["xep_0048"].set_bookmarks(storage, method="xep_0049", timeout=TIMEOUT)
    items = await alice.plugin["xep_0060"].get_items(alice_jid, BOOKMARKS, timeout=TIMEOUT)
    ids = [item["id"] for item in items["pubsub"]["items"]]
    if ids != [f"tea@conference.{DOMAIN}"]:
        fail("xep-0048 to xep-0402", str(ids))
    conference = Conference()
    conference["name"] = "Coffee"
    conference["autojoin"] = False
    await alice.plugin["xep_0060"].publish(alice_jid, BOOKMARKS, id=f"coffee@conference.{DOMAIN}", payload=conference, timeout=TIMEOUT)
    result = await alice.plugin["xep_0048"].get_bookmarks(method="xep_0049", timeout=TIMEOUT)
    rooms = sorted(str(c["jid"]) for c in result["private"]["bookmarks"]["conferences"])
    if rooms != [f"coffee@conference.{DOMAIN}", f"tea@conference.{DOMAIN}"]:
        fail("xep-0402 to xep-0048", str(rooms))
    ok("bookmarks: private XML (XEP-0049/0048) and PEP (XEP-0402) show the same rooms")

    try:
        await bob.plugin["xep_0060"].publish(alice_jid, NICK, payload=Conference(), timeout=TIMEOUT)
        fail("foreign publish", "bob published to alice's PEP")
    except IqError:
        pass
    try:
        await bob.plugin["xep_0060"].get_items(alice_jid, "no-such-node", timeout=TIMEOUT)
        fail("missing node", "items of a node that does not exist")
    except IqError as error:
        if error.condition != "item-not-found":
            fail("missing node", error.condition)
    ok("errors: nobody publishes to another's PEP; a missing node is item-not-found")

    await alice.logout()
    await bob.logout()
    print("scenario complete", flush=True)


asyncio.run(main())
