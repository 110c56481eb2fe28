"""Cluster scenario: slixmpp clients spread over three xmppd nodes that share PostgreSQL and Redis, a node stopped past
its heartbeat TTL and resumed, kill -9 of the node serving a chat room, then Redis stopped while a message crosses
nodes.

usage: python3 -u cluster_scenario.py HOST PORT1 0 DOMAIN CA_CERT PORT2 PORT3 PID1 PID2 PID3 REDIS_PORT PROXY_PORT
           XMPPCTL NODE1_DATA_DIR REDIS_PID [REDIS_CA REDIS_CLIENT_CERT REDIS_CLIENT_KEY]

With the last three, Redis speaks TLS only and asks for a client certificate (as the nodes reach it: rediss://).

PROXY_PORT is HAProxy's c2s port in front of the three nodes ("-" when HAProxy is not installed). Each step prints
"ok <step>"; the first failure prints "FAIL <step>: <why>" and exits 1. Run by Tests/XMPPServerTests/ClusterTests.swift.
"""
import asyncio
import os
import signal
import socket
import ssl
import subprocess
import sys
import time

import slixmpp

from slixmpp_scenario import DOMAIN, HOST, SUFFIX, TIMEOUT, Client, fail, next_matching, ok

PORTS = [int(sys.argv[2]), int(sys.argv[6]), int(sys.argv[7])]
PIDS = [int(sys.argv[8]), int(sys.argv[9]), int(sys.argv[10])]
REDIS_PORT = int(sys.argv[11])
PROXY_PORT = None if sys.argv[12] == "-" else int(sys.argv[12])
XMPPCTL, NODE1_DIR = sys.argv[13], sys.argv[14]
REDIS_PID = int(sys.argv[15])
REDIS_TLS = sys.argv[16:19] if len(sys.argv) > 18 else None
NODES = ["node1", "node2", "node3"]
PREFIX = f"xmppd:{DOMAIN}:"


def redis(*command):
    """One Redis command over RESP2, its answer as Python values (enough for GET, HGET, SMEMBERS, HLEN)."""
    with socket.create_connection(("127.0.0.1", REDIS_PORT), timeout=5) as plain:
        connection = plain
        if REDIS_TLS:
            context = ssl.create_default_context(cafile=REDIS_TLS[0])
            context.load_cert_chain(REDIS_TLS[1], REDIS_TLS[2])
            connection = context.wrap_socket(plain, server_hostname="localhost")
        request = f"*{len(command)}\r\n" + "".join(f"${len(part.encode())}\r\n{part}\r\n" for part in command)
        connection.sendall(request.encode())
        reader = connection.makefile("rb")

        def value():
            line = reader.readline().decode().rstrip("\r\n")
            kind, rest = line[0], line[1:]
            if kind in "+-":
                return rest
            if kind == ":":
                return int(rest)
            if kind == "$":
                return None if int(rest) < 0 else reader.read(int(rest) + 2)[:-2].decode()
            if kind == "*":
                return None if int(rest) < 0 else [value() for _ in range(int(rest))]
            raise RuntimeError(f"unexpected Redis answer {line}")
        return value()


class Member(Client):
    """The scenario's client on one node, with carbons."""

    def __init__(self, user, node, register=False, resource="interop", port=None):
        super().__init__(user, "secret", register=register, resource=resource, port=port or PORTS[node])
        for plugin in ["xep_0280", "xep_0297"]:
            self.register_plugin(plugin)
        self.carbons = asyncio.Queue()
        self.add_event_handler("carbon_received", lambda m: self.carbons.put_nowait(("received", m)))
        self.add_event_handler("carbon_sent", lambda m: self.carbons.put_nowait(("sent", m)))
        self.gone = asyncio.get_event_loop().create_future()
        self.add_event_handler("disconnected", lambda _: self.gone.done() or self.gone.set_result(True))


async def subscribe(a, b, a_jid, b_jid):
    a.send_presence(pto=b_jid, ptype="subscribe")
    await next_matching(b.subscriptions, lambda p: p["type"] == "subscribe" and p["from"].bare == a_jid, "request crosses nodes")
    b.send_presence(pto=a_jid, ptype="subscribed")
    b.send_presence(pto=a_jid, ptype="subscribe")
    await next_matching(a.subscriptions, lambda p: p["type"] == "subscribe" and p["from"].bare == b_jid, "request back")
    a.send_presence(pto=b_jid, ptype="subscribed")
    await next_matching(a.presences, lambda p: p["from"].bare == b_jid and p["type"] == "available", f"{a_jid} sees {b_jid} online")
    await next_matching(b.presences, lambda p: p["from"].bare == a_jid and p["type"] == "available", f"{b_jid} sees {a_jid} online")


async def main():
    names = {name: f"{name}{SUFFIX}" for name in ["alice", "bob", "carol", "dave"]}
    jids = {name: f"{user}@{DOMAIN}" for name, user in names.items()}
    # Accounts are registered each on another node: the database is shared.
    alice = Member(names["alice"], 0, register=True)
    bob = Member(names["bob"], 1, register=True)
    carol = Member(names["carol"], 2, register=True)
    for client in (alice, bob, carol):
        await client.login()
    ok("three accounts registered and logged in on three nodes")

    await subscribe(alice, bob, jids["alice"], jids["bob"])
    ok("subscription and presence between node1 and node2")

    alice.send_message(mto=jids["bob"], mbody="hello from node1", mtype="chat")
    await next_matching(bob.messages, lambda m: m["body"] == "hello from node1", "bob gets alice's message")
    bob.send_message(mto=f"{jids['alice']}/interop", mbody="hello from node2", mtype="chat")
    await next_matching(alice.messages, lambda m: m["body"] == "hello from node2", "alice gets bob's message")
    ok("chat both ways between node1 and node2 (bare and full JID)")

    # bob's second resource on node3: bare-JID delivery reaches both, carbons cross nodes.
    bob2 = Member(names["bob"], 2, resource="second")
    await bob2.login()
    await next_matching(alice.presences, lambda p: str(p["from"]) == f"{jids['bob']}/second" and p["type"] == "available", "alice sees bob's second resource")
    for client in (bob, bob2):
        await client.plugin["xep_0280"].enable(timeout=TIMEOUT)
    await asyncio.sleep(0.5)
    alice.send_message(mto=jids["bob"], mbody="to both of you", mtype="chat")
    await next_matching(bob.messages, lambda m: m["body"] == "to both of you", "bob (node2) gets the bare-JID message")
    await next_matching(bob2.messages, lambda m: m["body"] == "to both of you", "bob (node3) gets the bare-JID message")
    bob.send_message(mto=jids["alice"], mbody="sent from node2", mtype="chat")
    kind, carbon = await asyncio.wait_for(bob2.carbons.get(), TIMEOUT)
    if kind != "sent" or carbon["carbon_sent"]["body"] != "sent from node2":
        fail("carbons", f"{kind} {carbon['carbon_sent']['body']!r} {carbon}")
    alice.send_message(mto=f"{jids['bob']}/interop", mbody="to node2 only", mtype="chat")
    kind, carbon = await asyncio.wait_for(bob2.carbons.get(), TIMEOUT)
    if kind != "received" or carbon["carbon_received"]["body"] != "to node2 only":
        fail("carbons", f"{kind} {carbon['carbon_sent']['body']!r} {carbon}")
    ok("one account on node2 and node3: bare-JID delivery to both, sent and received carbons across nodes")

    # Offline: carol leaves; a message waits for her in the shared database; she comes back on another node.
    await carol.logout()
    alice.send_message(mto=jids["carol"], mbody="while you were away", mtype="chat")
    await asyncio.sleep(1)
    carol = Member(names["carol"], 1)
    await carol.login()
    await next_matching(carol.messages, lambda m: m["body"] == "while you were away", "carol gets her offline message on node2")
    ok("offline message stored by node1, delivered by node2")

    # A blocklist changed on node2 holds for what node1 routes.
    await carol.plugin["xep_0191"].block(slixmpp.JID(jids["alice"]), timeout=TIMEOUT)
    await asyncio.sleep(1)
    alice.send_message(mto=jids["carol"], mbody="you blocked me", mtype="chat")
    bounced = await next_matching(alice.messages, lambda m: m["type"] == "error" and m["from"].bare == jids["carol"], "alice's message bounces")
    if bounced["error"]["condition"] != "service-unavailable":
        fail("blocking across nodes", str(bounced))
    await carol.plugin["xep_0191"].unblock(slixmpp.JID(jids["alice"]), timeout=TIMEOUT)
    await asyncio.sleep(1)
    alice.send_message(mto=jids["carol"], mbody="unblocked", mtype="chat")
    received = await next_matching(carol.messages, lambda m: m["type"] in ("chat", "normal") and m["from"].bare == jids["alice"], "carol gets alice's message")
    if received["body"] != "unblocked":
        fail("blocking across nodes", f"carol got {received['body']!r} while alice was blocked")
    ok("a blocklist changed on node2 stops and then lets through what node1 routes")

    # A chat room with occupants on all three nodes.
    room = slixmpp.JID(f"cluster{SUFFIX}@conference.{DOMAIN}")
    muc = {c: c.plugin["xep_0045"] for c in (alice, bob, carol)}
    await muc[alice].join_muc_wait(room, "Alice", timeout=TIMEOUT)
    form = await muc[alice].get_room_config(room, timeout=TIMEOUT)
    form.set_values({"muc#roomconfig_roomname": f"Cluster {SUFFIX}", "muc#roomconfig_persistentroom": True})
    await muc[alice].set_room_config(room, form, timeout=TIMEOUT)
    await muc[bob].join_muc_wait(room, "Bob", timeout=TIMEOUT)
    _, _, occupants, _ = await muc[carol].join_muc_wait(room, "Carol", timeout=TIMEOUT)
    if sorted(p["from"].resource for p in occupants) != ["Alice", "Bob", "Carol"]:
        fail("room", f"occupants {[str(p['from']) for p in occupants]}")
    bob.send_message(mto=room, mbody="room message from node2", mtype="groupchat")
    await next_matching(alice.groupchat, lambda m: m["body"] == "room message from node2", "alice (node1) sees the room message")
    await next_matching(carol.groupchat, lambda m: m["body"] == "room message from node2", "carol (node3... now node2) sees it")
    owner = redis("HGET", PREFIX + "owners", f"conference.{DOMAIN}|{room.user}")
    if owner not in NODES:
        fail("room owner", f"Redis says {owner}")
    ok(f"a persistent room with occupants on every node, served by {owner}")

    # Sessions of every node are listed by any node's xmppctl.
    listed = subprocess.run([XMPPCTL, "sessions", "--data-dir", NODE1_DIR], capture_output=True, text=True, timeout=60)
    for jid in (f"{jids['bob']}/interop", f"{jids['bob']}/second", f"{jids['carol']}/interop", f"{jids['alice']}/interop"):
        if jid not in listed.stdout:
            fail("xmppctl sessions", f"{jid} not in {listed.stdout!r} {listed.stderr!r}")
    stats = subprocess.run([XMPPCTL, "stats", "--data-dir", NODE1_DIR], capture_output=True, text=True, timeout=60).stdout
    if " cluster_nodes 3" not in stats:
        fail("xmppctl stats", stats)
    frank = Member(f"frank{SUFFIX}", 2, register=True)
    await frank.login()
    await asyncio.sleep(0.5)
    kicked = subprocess.run([XMPPCTL, "kick", f"frank{SUFFIX}@{DOMAIN}", "--data-dir", NODE1_DIR], capture_output=True, text=True, timeout=60)
    try:
        await asyncio.wait_for(frank.gone, TIMEOUT)
    except asyncio.TimeoutError:
        fail("xmppctl kick", f"frank on node3 still connected: {kicked.stdout!r} {kicked.stderr!r}")
    ok("xmppctl on node1: sessions lists all three nodes', stats counts 3 nodes, kick ends a session on node3")

    # Account deletion ends the account's sessions on every node.
    dave1 = Member(names["dave"], 0, register=True)
    await dave1.login()
    dave2 = Member(names["dave"], 2, resource="other")
    await dave2.login()
    await dave1.plugin["xep_0077"].cancel_registration(timeout=TIMEOUT)
    try:
        await asyncio.wait_for(dave2.gone, TIMEOUT)
    except asyncio.TimeoutError:
        fail("account deletion", "dave's session on node3 stayed open")
    ok("an account deleted on node1 loses its session on node3")

    # A node stopped (SIGSTOP) past its heartbeat TTL is taken for gone: its users' contacts see them go unavailable.
    # Running again, it finds it was reaped and announces its sessions and their presence again: the contacts see the
    # users come back, and messages reach them both ways. (Not the room's node: the next step needs it.)
    paused = 1 if owner == NODES[0] else 0
    sleeper, watcher = (bob, alice) if paused == 1 else (alice, bob)
    os.kill(PIDS[paused], signal.SIGSTOP)
    try:
        await next_matching(watcher.presences, lambda p: p["from"] == sleeper.boundjid and p["type"] == "unavailable",
                            "a contact sees the stopped node's user go unavailable")
    finally:
        os.kill(PIDS[paused], signal.SIGCONT)
    resumed_at = time.monotonic()
    await next_matching(watcher.presences, lambda p: p["from"] == sleeper.boundjid and p["type"] == "available",
                        "the contact sees the user available again once the node runs")
    back_after = time.monotonic() - resumed_at
    # The room (served by another node) removed the user when the node was taken for gone; the client is told so.
    notice = await next_matching(sleeper.room_presences,
                                 lambda p: p["from"].bare == room.bare and p["type"] == "unavailable"
                                 and {110, 332} <= set(p["muc"]["status_codes"]),
                                 "the user learns the room removed it (110, 332)")
    if notice["from"].resource != ("Bob" if sleeper is bob else "Alice"):
        fail("room notice", str(notice))
    watcher.send_message(mto=sleeper.boundjid.bare, mbody="welcome back", mtype="chat")
    await next_matching(sleeper.messages, lambda m: m["body"] == "welcome back", "the user on the resumed node gets a message")
    sleeper.send_message(mto=watcher.boundjid.full, mbody="glad to be", mtype="chat")
    await next_matching(watcher.messages, lambda m: m["body"] == "glad to be", "the contact gets the answer")
    ok(f"{NODES[paused]} stopped past its TTL: its users went unavailable to their contacts, and {back_after:.1f} s after "
       "it ran again were available and reachable, and told the room served elsewhere had removed them")

    # kill -9 of the node serving the room. erin is on that node only, and is sent a message as it dies.
    victim = NODES.index(owner)
    survivors = [c for c, node in ((alice, 0), (bob, 1), (bob2, 2), (carol, 1)) if node != victim]
    on_victim = [c for c, node in ((alice, 0), (bob, 1), (bob2, 2), (carol, 1)) if node == victim]
    erin = Member(f"erin{SUFFIX}", victim, register=True)
    await erin.login()
    sender = survivors[0]
    # Under load: a stream of messages to erin, with the kill in the middle of it.
    burst = [f"burst {index}" for index in range(300)]
    for index, body in enumerate(burst):
        if index == 100:
            killed_at = time.monotonic()
            os.kill(PIDS[victim], signal.SIGKILL)
        sender.send_message(mto=f"erin{SUFFIX}@{DOMAIN}", mbody=body, mtype="chat")
        await asyncio.sleep(0.003)
    target = on_victim[0]
    # Their contacts on the surviving nodes see them go.
    watcher = bob if target is alice else alice
    if watcher in survivors:
        await next_matching(watcher.presences, lambda p: p["from"] == target.boundjid and p["type"] == "unavailable",
                            "a contact sees the dead node's user go unavailable")
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if NODES[victim] not in (redis("SMEMBERS", PREFIX + "nodes") or []) and redis("HLEN", PREFIX + f"sessions:{NODES[victim]}") == 0:
            break
        await asyncio.sleep(0.2)
    else:
        fail("directory", f"{NODES[victim]} still listed")
    ok(f"kill -9 of {NODES[victim]}: the directory forgot it and its users went unavailable after {time.monotonic() - killed_at:.1f} s")

    # The room comes back on another node with its persistent configuration.
    rejoiner = survivors[0]
    await rejoiner.plugin["xep_0045"].join_muc_wait(room, f"Back{SUFFIX}", timeout=TIMEOUT)
    info = await rejoiner.plugin["xep_0030"].get_info(jid=room, timeout=TIMEOUT)
    names_seen = [identity[3] for identity in info["disco_info"]["identities"]]
    if f"Cluster {SUFFIX}" not in names_seen:
        fail("room failover", f"identities {info['disco_info']['identities']}")
    new_owner = redis("HGET", PREFIX + "owners", f"conference.{DOMAIN}|{room.user}")
    if new_owner == owner or new_owner not in NODES:
        fail("room failover", f"owner {new_owner}")
    ok(f"the room is back on {new_owner} with its name and persistence")

    # erin reconnects (through HAProxy when there is one) and gets the message sent as her node died.
    port = PROXY_PORT or PORTS[(victim + 1) % 3]
    back = Member(f"erin{SUFFIX}", 0, resource="back", port=port)
    await back.login()
    # Each message reached her old session before its node died, or reaches her now (from offline storage).
    before = set()
    while not erin.messages.empty():
        before.add(erin.messages.get_nowait()["body"])
    missing = set(burst) - before
    deadline = time.monotonic() + TIMEOUT
    while missing and time.monotonic() < deadline:
        try:
            message = await asyncio.wait_for(back.messages.get(), 1)
        except asyncio.TimeoutError:
            continue
        missing.discard(message["body"])
    if missing:
        fail("messages under kill -9", f"{len(missing)} of {len(burst)} never arrived, e.g. {sorted(missing)[:5]}")
    via = "HAProxy" if PROXY_PORT else "another node"
    ok(f"erin reconnects through {via}: of {len(burst)} messages sent to her while her node was killed, {len(before)} reached her before, the rest now")

    # Redis stops answering while a user of one surviving node writes to a user of the other. The nodes take it for
    # down after cluster_redis_timeout (1 s here): the message cannot cross and goes to offline storage, and the
    # announcement of it cannot go out either. Once Redis answers, the node that stored it announces it again, and the
    # recipient's node delivers it to her: she does not wait for her next login.
    first, second = [index for index in range(3) if index != victim]
    ivy = Member(f"ivy{SUFFIX}", first, register=True)
    jack = Member(f"jack{SUFFIX}", second, register=True)
    await ivy.login()
    await jack.login()
    await asyncio.sleep(0.5)  # ivy's node mirrors jack's session: the message is for another node's session
    os.kill(REDIS_PID, signal.SIGSTOP)
    try:
        ivy.send_message(mto=f"jack{SUFFIX}@{DOMAIN}", mbody="while Redis was away", mtype="chat")
        await asyncio.sleep(3)
    finally:
        os.kill(REDIS_PID, signal.SIGCONT)
    resumed_at = time.monotonic()
    got = await next_matching(jack.messages, lambda m: m["body"] == "while Redis was away", "jack gets the message once Redis answers")
    if got["from"].bare != ivy.boundjid.bare:
        fail("message across a Redis stop", str(got))
    ok(f"Redis stopped for 3 s while a message crossed from {NODES[first]} to {NODES[second]}: stored offline, delivered "
       f"{time.monotonic() - resumed_at:.1f} s after Redis answered again")

    for client in survivors + [back, ivy, jack]:
        client.disconnect()
    await asyncio.sleep(0.5)
    print("done", flush=True)


asyncio.run(main())
