"""Interop scenario for XMPP over BOSH (XEP-0124, XEP-0206): a client written here with nothing but http.client speaks
the raw protocol to xmppd's web listener at /http-bind, and talks to a slixmpp client on the ordinary c2s port
through the same server.

usage: python3 -u bosh_scenario.py HOST PORT TLS_PORT DOMAIN CA_CERT HTTP_PORT MAX_WAIT INACTIVITY [limit|slow]

The server runs with bosh_max_wait = MAX_WAIT and bosh_inactivity = INACTIVITY (short, so the timeouts can be
watched), and websocket_origins = https://chat.example. With `limit`, only the per-address session limit is
tried, against a server with connections_per_ip = 3 and trusted_proxies = 127.0.0.1; with `slow`, only a client that stops fetching, against
max_outbound_bytes = 65536 and write_stall_timeout = 2. Each step prints "ok <step>"; the first failure prints
"FAIL <step>: <why>" and exits 1. Run by Tests/XMPPServerTests/BOSHInteropTests.swift.
"""
import asyncio
import base64
import hashlib
import http.client
import json
import random
import sys
import time
import urllib.request
import xml.etree.ElementTree as ET

from slixmpp_scenario import DOMAIN, HOST, SUFFIX, TIMEOUT, Client, fail, next_matching, ok

HTTP_PORT, MAX_WAIT, INACTIVITY = int(sys.argv[6]), int(sys.argv[7]), int(sys.argv[8])
HTTPBIND = "http://jabber.org/protocol/httpbind"
XBOSH = "urn:xmpp:xbosh"
STREAMS = "http://etherx.jabber.org/streams"
CLIENT = "jabber:client"
SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
BIND = "urn:ietf:params:xml:ns:xmpp-bind"
URL = f"http://{HOST}:{HTTP_PORT}/http-bind"


def tag(ns, name):
    return f"{{{ns}}}{name}"


def request(method, body=b"", headers=None):
    """One HTTP request on a connection of its own: (status, headers, body bytes)."""
    connection = http.client.HTTPConnection(HOST, HTTP_PORT, timeout=TIMEOUT + MAX_WAIT)
    try:
        connection.request(method, "/http-bind", body=body, headers=headers or {"Content-Type": "text/xml; charset=utf-8"})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


class Bosh:
    """A BOSH session: its sid, its next rid and its keys (XEP-0124 §15)."""

    def __init__(self, name, keys=True, headers=None):
        self.name = name
        self.headers = {"Content-Type": "text/xml; charset=utf-8", **(headers or {})}
        self.rid = random.randint(1 << 20, 1 << 40)
        self.sid = None
        seed = f"{name}-{random.random()}"
        self.keys = [seed]
        for _ in range(60):
            self.keys.append(hashlib.sha1(self.keys[-1].encode()).hexdigest())
        if not keys:
            self.keys = []
        self.received = []
        self.last = None

    def body(self, attributes="", children="", rid=None, key=None):
        rid = self.rid if rid is None else rid
        attributes = f" rid='{rid}'" + (f" sid='{self.sid}'" if self.sid else "") + attributes
        if key is not None:
            attributes += f" key='{key}'"
        return (f"<body xmlns='{HTTPBIND}' xmlns:xmpp='{XBOSH}'{attributes}>{children}</body>").encode()

    async def send(self, what, attributes="", children="", rid=None, key="next"):
        """Sends one request (the next rid and key unless told) and returns the parsed response <body/>."""
        if key == "next":
            key = self.keys.pop() if self.keys and self.sid else None
            self.used_key = key
        data = self.body(attributes, children, rid, key)
        started = time.monotonic()
        status, headers, raw = await asyncio.to_thread(request, "POST", data, self.headers)
        self.elapsed = time.monotonic() - started
        if rid is None:
            self.rid += 1
        if status != 200:
            fail(what, f"HTTP {status}: {raw!r}")
        if headers.get("Content-Type") != "text/xml; charset=utf-8":
            fail(what, f"Content-Type {headers.get('Content-Type')}")
        try:
            body = ET.fromstring(raw)
        except ET.ParseError as error:
            fail(what, f"the response is not XML ({error}): {raw!r}")
        if body.tag != tag(HTTPBIND, "body"):
            fail(what, f"not a <body/>: {raw!r}")
        self.last = raw
        self.received.extend(list(body))
        return body

    async def create(self, what, wait=60, hold=1):
        newkey = f" newkey='{self.keys.pop()}'" if self.keys else ""
        body = await self.send(what, f" to='{DOMAIN}' wait='{wait}' hold='{hold}' ver='1.11' xml:lang='en' xmpp:version='1.0'{newkey}")
        self.sid = body.get("sid")
        if not self.sid or body.get("type") == "terminate":
            fail(what, f"no session: {ET.tostring(body)}")
        self.received.clear()
        return body

    async def next_element(self, what, predicate, deadline=TIMEOUT):
        """Polls (empty requests, each held up to `wait`) until an element matching `predicate` arrives."""
        end = time.monotonic() + deadline
        while True:
            for index, element in enumerate(self.received):
                if predicate(element):
                    del self.received[index]
                    return element
            if time.monotonic() > end:
                fail(what, f"nothing matching arrived; got {[ET.tostring(e) for e in self.received]}")
            body = await self.send(what)
            if body.get("type") == "terminate":
                fail(what, f"the session ended: {ET.tostring(body)}")


def check_creation(body):
    expected = {"wait": str(MAX_WAIT), "hold": "1", "requests": "2", "inactivity": str(INACTIVITY), "ver": "1.11", "from": DOMAIN,
                tag(XBOSH, "version"): "1.0"}
    for name, value in expected.items():
        if body.get(name) != value:
            fail("session creation", f"{name} is {body.get(name)}, expected {value}: {ET.tostring(body)}")
    for name in ["sid", "authid", "polling"]:
        if not body.get(name):
            fail("session creation", f"no {name}: {ET.tostring(body)}")
    features = body.find(tag(STREAMS, "features"))
    if features is None:
        fail("session creation", f"no stream features: {ET.tostring(body)}")
    mechanisms = [m.text for m in features.iter(tag(SASL, "mechanism"))]
    if "PLAIN" not in mechanisms or features.find(tag("urn:ietf:params:xml:ns:xmpp-tls", "starttls")) is not None:
        fail("session creation", f"expected SASL PLAIN and no STARTTLS on loopback HTTP: {ET.tostring(features)}")


async def log_in(bosh, user, password, resource):
    """SASL PLAIN, restart, bind over BOSH; returns the full JID."""
    token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
    await bosh.send("auth", children=f"<auth xmlns='{SASL}' mechanism='PLAIN'>{token}</auth>")
    success = await bosh.next_element("auth", lambda e: e.tag in (tag(SASL, "success"), tag(SASL, "failure")))
    if success.tag != tag(SASL, "success"):
        fail("auth", ET.tostring(success))
    await bosh.send("restart", f" to='{DOMAIN}' xml:lang='en' xmpp:restart='true'")
    features = await bosh.next_element("restart", lambda e: e.tag == tag(STREAMS, "features"))
    if features.find(tag(BIND, "bind")) is None:
        fail("restart", f"no bind feature: {ET.tostring(features)}")
    # Stanzas in the body without a namespace of their own are jabber:client (XEP-0206).
    await bosh.send("bind", children=f"<iq type='set' id='b1'><bind xmlns='{BIND}'><resource>{resource}</resource></bind></iq>")
    bound = await bosh.next_element("bind", lambda e: e.tag == tag(CLIENT, "iq") and e.get("id") == "b1")
    jid = bound.find(f"{tag(BIND, 'bind')}/{tag(BIND, 'jid')}")
    if bound.get("type") != "result" or jid is None:
        fail("bind", ET.tostring(bound))
    return jid.text


async def discovery():
    with urllib.request.urlopen(f"http://{HOST}:{HTTP_PORT}/.well-known/host-meta.json", timeout=TIMEOUT) as response:
        links = json.load(response)["links"]
    if {"rel": "urn:xmpp:alt-connections:xbosh", "href": URL} not in links:
        fail("host-meta.json", str(links))
    with urllib.request.urlopen(f"http://{HOST}:{HTTP_PORT}/.well-known/host-meta", timeout=TIMEOUT) as response:
        xrd = ET.fromstring(response.read())
    links = {link.get("rel"): link.get("href") for link in xrd.iter("{http://docs.oasis-open.org/ns/xri/xrd-1.0}Link")}
    if links.get("urn:xmpp:alt-connections:xbosh") != URL:
        fail("host-meta", str(links))
    ok("discovery: host-meta and host-meta.json link the BOSH endpoint (XEP-0156)")


async def cors():
    status, headers, _ = await asyncio.to_thread(request, "OPTIONS", b"", {
        "Origin": "https://chat.example", "Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "content-type"})
    if status != 200 or headers.get("Access-Control-Allow-Origin") != "https://chat.example" \
            or "POST" not in (headers.get("Access-Control-Allow-Methods") or "") \
            or "content-type" not in (headers.get("Access-Control-Allow-Headers") or "").lower():
        fail("cors", f"preflight: {status} {dict(headers)}")
    status, headers, _ = await asyncio.to_thread(request, "OPTIONS", b"", {"Origin": "https://elsewhere.example"})
    if status != 403 or headers.get("Access-Control-Allow-Origin"):
        fail("cors", f"another origin's preflight: {status} {dict(headers)}")
    status, _, _ = await asyncio.to_thread(request, "POST", b"<body/>", {"Origin": "https://elsewhere.example", "Content-Type": "text/xml"})
    if status != 403:
        fail("cors", f"another origin's POST: {status}")
    ok("CORS: a preflight from an allowed origin gets Access-Control-Allow-*, another origin gets 403")


async def hold(alice):
    """With hold = 1, a second request makes the server answer the first at once (empty), and the second waits."""
    first_rid, first_key = alice.rid, alice.keys.pop()
    second_rid, second_key = alice.rid + 1, alice.keys.pop()
    alice.rid += 2
    first = asyncio.create_task(asyncio.to_thread(request, "POST", alice.body(rid=first_rid, key=first_key)))
    await asyncio.sleep(0.5)
    started = time.monotonic()
    second = asyncio.create_task(asyncio.to_thread(request, "POST", alice.body(rid=second_rid, key=second_key)))
    status, _, raw = await first
    first_elapsed = time.monotonic() - started
    if status != 200 or len(ET.fromstring(raw)) != 0 or first_elapsed > MAX_WAIT - 0.5:
        fail("hold", f"the first request was answered {first_elapsed:.1f}s after the second came: {status} {raw!r}")
    status, _, raw = await second
    second_elapsed = time.monotonic() - started
    if status != 200 or len(ET.fromstring(raw)) != 0 or second_elapsed < MAX_WAIT - 0.5:
        fail("hold", f"the second request was answered after {second_elapsed:.1f}s: {status} {raw!r}")
    alice.last, alice.used_key = raw, second_key
    ok(f"hold: a second request frees the first at once ({first_elapsed:.1f}s), and is held itself for wait ({second_elapsed:.1f}s)")


async def session_limit():
    """connections_per_ip (3 here) counts BOSH sessions among the c2s connections of an address."""
    sessions = []
    for index in range(3):
        session = Bosh(f"limit{index}", keys=False)
        await session.create("session limit")
        sessions.append(session)
    refused = Bosh("refused", keys=False)
    body = await refused.send("session limit", f" to='{DOMAIN}' wait='5' hold='1' xmpp:version='1.0'")
    if body.get("type") != "terminate" or body.get("condition") != "policy-violation":
        fail("session limit", f"a fourth session: {ET.tostring(body)}")
    # Through a trusted proxy (trusted_proxies = 127.0.0.1 here) a session counts under the forwarded address.
    proxied = Bosh("proxied", keys=False, headers={"X-Forwarded-For": "203.0.113.9, 198.51.100.7"})
    await proxied.create("session limit through a trusted proxy")
    await sessions[0].send("session limit", " type='terminate'")
    await asyncio.sleep(0.5)
    again = Bosh("again", keys=False)
    await again.create("session limit")
    ok("sessions beyond connections_per_ip get policy-violation (through a trusted proxy, counted by the forwarded "
       "address); ending one makes room")
    print("scenario complete", flush=True)


async def slow_reader():
    """A BOSH client that stops fetching: what waits for it is bounded (max_outbound_bytes = 65536 here), the stream
    backs up, and the c2s rule for clients that do not read (write_stall_timeout = 2 here) ends the session."""
    alice_name, bob_name = f"bosh-slow-{SUFFIX}", f"bosh-flood-{SUFFIX}"
    registered = Client(alice_name, "wonderland", register=True)
    await registered.login()
    await registered.logout()
    bob = Client(bob_name, "builder", register=True, resource="desk")
    await bob.login()
    alice = Bosh("slow", keys=False)
    await alice.create("slow reader")
    full_jid = await log_in(alice, alice_name, "wonderland", "slow")
    await alice.send("slow reader", children="<presence/>")
    count = 60
    for index in range(count):
        bob.send_message(mto=full_jid, mbody=f"{index} " + "x" * 8000, mtype="chat")
    await asyncio.sleep(6)
    received = 0
    for _ in range(40):
        body = await alice.send("slow reader")
        received += len(body.findall(tag(CLIENT, "message")))
        if body.get("type") == "terminate" or received >= count:
            break
    else:
        fail("slow reader", f"the session went on; {received} of {count} messages arrived")
    if received >= count:
        fail("slow reader", f"all {count} messages were kept for the client")
    await bob.logout()
    ok(f"a BOSH client that does not fetch is cut off like a c2s client that does not read ({received} of {count} messages)")
    print("scenario complete", flush=True)


async def refusals(alice):
    """Wrong requests are refused with a clear condition, and the session goes on."""
    # The same rid again gets the same response (XEP-0124 §14.3).
    before = alice.last
    rid = alice.rid - 1
    await alice.send("repeated rid", rid=rid, key=alice.used_key)
    if alice.last != before:
        fail("repeated rid", f"{alice.last!r} differs from {before!r}")
    # A wrong key: item-not-found, and the session goes on with the right one.
    answer = await alice.send("wrong key", rid=alice.rid, key="0" * 40)
    if answer.get("type") != "terminate" or answer.get("condition") != "item-not-found":
        fail("wrong key", ET.tostring(answer))
    # An unknown sid, a missing rid, a body that is not BOSH.
    status, _, raw = await asyncio.to_thread(request, "POST", f"<body xmlns='{HTTPBIND}' rid='5' sid='no-such-session'/>".encode())
    if status != 200 or ET.fromstring(raw).get("condition") != "item-not-found":
        fail("unknown sid", f"{status} {raw!r}")
    status, _, raw = await asyncio.to_thread(request, "POST", f"<body xmlns='{HTTPBIND}' sid='{alice.sid}'/>".encode())
    if status != 200 or ET.fromstring(raw).get("condition") != "bad-request":
        fail("missing rid", f"{status} {raw!r}")
    status, _, raw = await asyncio.to_thread(request, "POST", b"<body xmlns='wrong'/>")
    if status != 200 or ET.fromstring(raw).get("condition") != "bad-request":
        fail("not BOSH", f"{status} {raw!r}")
    # A body over the limit: 413 (or the connection closed while the client still sends).
    try:
        status, _, _ = await asyncio.to_thread(request, "POST", alice.body(children="<message><body>" + "x" * 300_000 + "</body></message>",
                                                                     rid=alice.rid, key=None))
        if status != 413:
            fail("oversized body", f"HTTP {status}")
    except (ConnectionError, http.client.HTTPException):
        pass
    # A second session, whose rid jumps out of the window: item-not-found, and that session is over.
    other = Bosh("other", keys=False)
    await other.create("second session")
    answer = await other.send("rid out of window", rid=other.rid + 5)
    if answer.get("type") != "terminate" or answer.get("condition") != "item-not-found":
        fail("rid out of window", ET.tostring(answer))
    answer = await other.send("after the window")
    if answer.get("type") != "terminate":
        fail("rid out of window", f"the session went on: {ET.tostring(answer)}")
    # Alice's session still works (the right key, the next rid).
    body = await alice.send("after refusals", children=f"<iq type='get' id='ping1'><ping xmlns='urn:xmpp:ping'/></iq>")
    if body.get("type") == "terminate":
        fail("after refusals", ET.tostring(body))
    await alice.next_element("after refusals", lambda e: e.tag == tag(CLIENT, "iq") and e.get("id") == "ping1")
    ok("a repeated rid gets the same response; a wrong key, an unknown sid, a missing rid and a rid out of the window get "
       "item-not-found or bad-request, a body over the limit 413; the session goes on")


async def stream_errors():
    """A stream error from the server ends the session with remote-stream-error and the error inside (XEP-0206 §7); a
    domain the server does not serve gets host-unknown."""
    early = Bosh("errors", keys=False)
    await early.create("stream error")
    body = await early.send("stream error", children="<message to='someone@localhost'><body>before login</body></message>")
    if body.get("type") != "terminate":
        body = await early.send("stream error")
    error = body.find(tag(STREAMS, "error"))
    if body.get("type") != "terminate" or body.get("condition") != "remote-stream-error" or error is None \
            or error.find(tag("urn:ietf:params:xml:ns:xmpp-streams", "not-authorized")) is None:
        fail("stream error", ET.tostring(body))
    status, _, raw = await asyncio.to_thread(request, "POST", (
        f"<body xmlns='{HTTPBIND}' xmlns:xmpp='{XBOSH}' rid='10' to='nowhere.example' wait='5' hold='1' xmpp:version='1.0'/>").encode())
    if status != 200 or ET.fromstring(raw).get("condition") != "host-unknown":
        fail("host-unknown", f"{status} {raw!r}")
    ok("a stream error ends the session with remote-stream-error and the error; an unknown domain gets host-unknown")


def bosh_connections():
    with urllib.request.urlopen(f"http://{HOST}:{HTTP_PORT}/metrics", timeout=TIMEOUT) as response:
        for line in response.read().decode().splitlines():
            if line.startswith('xmpp_connections{listener="bosh"}'):
                return float(line.rsplit(" ", 1)[1])
    return None


async def main():
    alice_name, bob_name = f"bosh-alice-{SUFFIX}", f"bosh-bob-{SUFFIX}"
    bob_jid = f"{bob_name}@{DOMAIN}"
    alice_c2s = Client(alice_name, "wonderland", register=True)
    await alice_c2s.login()
    await alice_c2s.logout()
    bob = Client(bob_name, "builder", register=True, resource="desk")
    await bob.login()
    ok("accounts registered with slixmpp over c2s")
    await discovery()
    await cors()

    alice = Bosh("alice")
    check_creation(await alice.create("session creation", wait=60))
    ok("session creation: sid, wait cut to bosh_max_wait, hold, requests, inactivity, ver, from, authid, xmpp:version, "
       "and the stream features (PLAIN, no STARTTLS)")
    full_jid = await log_in(alice, alice_name, "wonderland", "bosh")
    if not full_jid.startswith(f"{alice_name}@{DOMAIN}/"):
        fail("login", full_jid)
    ok("login over BOSH: SASL PLAIN, restart (xmpp:restart), bind, with keys")
    open_sessions = await asyncio.to_thread(bosh_connections)
    if not open_sessions or open_sessions < 1:
        fail("metrics", f"xmpp_connections{{listener=\"bosh\"}} is {open_sessions}")

    await alice.send("presence", children="<presence/>")
    bob.send_message(mto=full_jid, mbody="hello bosh", mtype="chat")
    message = await alice.next_element("incoming message", lambda e: e.tag == tag(CLIENT, "message"))
    if message.findtext(tag(CLIENT, "body")) != "hello bosh":
        fail("incoming message", ET.tostring(message))
    await alice.send("outgoing message", children=f"<message to='{bob_jid}' type='chat'><body>hello tcp</body></message>")
    await next_matching(bob.messages, lambda m: m["body"] == "hello tcp", "bob gets the BOSH client's message")
    ok("presence, and messages both ways between the BOSH client and a slixmpp client on c2s")

    alice.received.clear()
    body = await alice.send("wait")
    if len(body) != 0 or body.get("type") or alice.elapsed < MAX_WAIT - 0.5:
        fail("wait", f"after {alice.elapsed:.1f}s: {ET.tostring(body)}")
    ok(f"an empty request is held for wait ({alice.elapsed:.1f}s) and answered with an empty <body/>")

    await hold(alice)
    await refusals(alice)
    await stream_errors()

    body = await alice.send("terminate", " type='terminate'", "<presence type='unavailable'/>")
    if body.get("type") != "terminate":
        fail("terminate", ET.tostring(body))
    answer = await alice.send("after terminate")
    if answer.get("type") != "terminate":
        fail("after terminate", ET.tostring(answer))
    ok("type='terminate' ends the session; a later request gets terminate")

    # Inactivity: a session nobody polls ends after bosh_inactivity, and its c2s session with it: a message sent
    # then is kept offline and reaches the account's next login.
    idle = Bosh("idle")
    await idle.create("inactivity")
    await log_in(idle, alice_name, "wonderland", "idle")
    await idle.send("inactivity", children="<presence/>")
    await asyncio.sleep(INACTIVITY + 3)
    answer = await idle.send("inactivity")
    if answer.get("type") != "terminate":
        fail("inactivity", f"the session is still there: {ET.tostring(answer)}")
    bob.send_message(mto=f"{alice_name}@{DOMAIN}", mbody="while you were away", mtype="chat")
    await asyncio.sleep(1)
    later = Client(alice_name, "wonderland", resource="later")
    await later.login()
    await next_matching(later.messages, lambda m: m["body"] == "while you were away", "offline message after inactivity")
    await later.logout()
    ok("a session without requests for bosh_inactivity ends, and its c2s session too (the message went offline)")
    await bob.logout()
    print("scenario complete", flush=True)


if __name__ == "__main__":
    mode = sys.argv[9] if len(sys.argv) > 9 else None
    asyncio.run({"limit": session_limit, "slow": slow_reader}.get(mode, main)())
