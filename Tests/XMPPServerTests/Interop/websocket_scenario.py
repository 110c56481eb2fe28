"""Interop scenario for XMPP over WebSocket (RFC 7395) and its discovery (XEP-0156): a WebSocket client written with
the `websockets` library (PyPI) speaks the framed protocol to xmppd's web listener, and talks to a slixmpp client on
the ordinary c2s port through the same server.

usage: python3 -u websocket_scenario.py HOST PORT TLS_PORT DOMAIN CA_CERT HTTP_PORT

Each step prints "ok <step>"; the first failure prints "FAIL <step>: <why>" and exits 1. Run by
Tests/XMPPServerTests/WebSocketInteropTests.swift.
"""
import asyncio
import base64
import json
import sys
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from slixmpp_scenario import DOMAIN, HOST, SUFFIX, TIMEOUT, Client, fail, next_matching, ok

HTTP_PORT = int(sys.argv[6])
URL = f"ws://{HOST}:{HTTP_PORT}/xmpp-websocket"
FRAMING = "urn:ietf:params:xml:ns:xmpp-framing"
STREAMS = "http://etherx.jabber.org/streams"
CLIENT = "jabber:client"
SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
BIND = "urn:ietf:params:xml:ns:xmpp-bind"
OPEN = f"<open xmlns='{FRAMING}' to='{DOMAIN}' version='1.0'/>"


async def receive(ws, what):
    """The next frame, parsed; each frame must be one whole XML document."""
    try:
        text = await asyncio.wait_for(ws.recv(), TIMEOUT)
    except (asyncio.TimeoutError, ConnectionClosed) as error:
        fail(what, f"no frame: {error!r}")
    if not isinstance(text, str):
        fail(what, f"a binary frame: {text!r}")
    try:
        return ET.fromstring(text)
    except ET.ParseError as error:
        fail(what, f"the frame is not one XML document ({error}): {text}")


def tag(ns, name):
    return f"{{{ns}}}{name}"


async def open_stream(ws, what):
    """Sends <open/> and returns the server's features."""
    await ws.send(OPEN)
    opened = await receive(ws, what)
    if opened.tag != tag(FRAMING, "open") or opened.get("from") != DOMAIN or opened.get("version") != "1.0" or not opened.get("id"):
        fail(what, f"expected <open/> from {DOMAIN}: {ET.tostring(opened)}")
    features = await receive(ws, what)
    if features.tag != tag(STREAMS, "features"):
        fail(what, f"expected stream features: {ET.tostring(features)}")
    return features


async def log_in(ws, user, password, resource):
    features = await open_stream(ws, "open")
    mechanisms = [m.text for m in features.iter(tag(SASL, "mechanism"))]
    if "PLAIN" not in mechanisms or features.find(tag("urn:ietf:params:xml:ns:xmpp-tls", "starttls")) is not None:
        fail("features", f"expected SASL and no STARTTLS on a WebSocket: {ET.tostring(features)}")
    token = base64.b64encode(f"\0{user}\0{password}".encode()).decode()
    await ws.send(f"<auth xmlns='{SASL}' mechanism='PLAIN'>{token}</auth>")
    answer = await receive(ws, "auth")
    if answer.tag != tag(SASL, "success"):
        return answer
    features = await open_stream(ws, "restart")
    if features.find(tag(BIND, "bind")) is None:
        fail("restart", f"no bind feature: {ET.tostring(features)}")
    await ws.send(f"<iq xmlns='{CLIENT}' type='set' id='b1'><bind xmlns='{BIND}'><resource>{resource}</resource></bind></iq>")
    bound = await receive(ws, "bind")
    jid = bound.find(f"{tag(BIND, 'bind')}/{tag(BIND, 'jid')}")
    if bound.tag != tag(CLIENT, "iq") or bound.get("type") != "result" or jid is None:
        fail("bind", ET.tostring(bound))
    return jid.text


async def discovery():
    with urllib.request.urlopen(f"http://{HOST}:{HTTP_PORT}/.well-known/host-meta.json", timeout=TIMEOUT) as response:
        links = json.load(response)["links"]
    if {"rel": "urn:xmpp:alt-connections:websocket", "href": URL} not in links:
        fail("host-meta.json", str(links))
    with urllib.request.urlopen(f"http://{HOST}:{HTTP_PORT}/.well-known/host-meta", timeout=TIMEOUT) as response:
        xrd = ET.fromstring(response.read())
    hrefs = [link.get("href") for link in xrd.iter("{http://docs.oasis-open.org/ns/xri/xrd-1.0}Link")]
    if URL not in hrefs:
        fail("host-meta", str(hrefs))
    ok("discovery: host-meta and host-meta.json link the WebSocket endpoint (XEP-0156)")
    with urllib.request.urlopen(f"http://{HOST}:{HTTP_PORT}/health", timeout=TIMEOUT) as response:
        if response.status != 200 or response.read() != b"ok\n":
            fail("health", str(response.status))
    for method, path, body, status in [("GET", "/nothing-here", None, 404), ("DELETE", "/health", None, 405),
                                       ("POST", "/health", b"x" * 20_000, 413), ("GET", "/xmpp-websocket", None, 426)]:
        request = urllib.request.Request(f"http://{HOST}:{HTTP_PORT}{path}", data=body, method=method)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                fail("http errors", f"{method} {path}: {response.status}")
        except urllib.error.HTTPError as error:
            if error.code != status:
                fail("http errors", f"{method} {path}: {error.code}, expected {status}")
        except (ConnectionError, urllib.error.URLError) as error:
            # The server may close before the client finished sending an oversized body: the 413 is then lost.
            if status != 413:
                fail("http errors", f"{method} {path}: {error!r}")
    ok("/health answers ok; an unknown path 404, another method 405, a large body 413, a plain GET of the endpoint 426")


async def chat(alice_name, bob, bob_jid):
    async with connect(URL, subprotocols=["xmpp"]) as ws:
        if ws.subprotocol != "xmpp":
            fail("handshake", f"subprotocol {ws.subprotocol}")
        full_jid = await log_in(ws, alice_name, "wonderland", "web")
        if not isinstance(full_jid, str) or not full_jid.startswith(f"{alice_name}@{DOMAIN}/"):
            fail("login", f"not bound: {full_jid}")
        ok("login over WebSocket: <open/>, SASL PLAIN, restart, bind")
        await ws.send(f"<presence xmlns='{CLIENT}'/>")
        bob.send_message(mto=full_jid, mbody="hello web", mtype="chat")
        while True:
            frame = await receive(ws, "incoming message")
            if frame.tag == tag(CLIENT, "message"):
                break
        if frame.findtext(tag(CLIENT, "body")) != "hello web":
            fail("incoming message", ET.tostring(frame))
        ok("a message from a slixmpp client on c2s arrives as one frame in jabber:client")
        await ws.send(f"<message xmlns='{CLIENT}' to='{bob_jid}' type='chat'><body>hello tcp</body></message>")
        await next_matching(bob.messages, lambda m: m["body"] == "hello tcp", "bob gets the WebSocket client's message")
        # The same as one WebSocket message in three fragments (continuation frames, each masked).
        await ws.send([f"<message xmlns='{CLIENT}' to='{bob_jid}' type='chat'>", "<body>in pieces", "</body></message>"])
        await next_matching(bob.messages, lambda m: m["body"] == "in pieces", "bob gets the fragmented message")
        ok("messages sent over WebSocket, whole or in fragments, reach the slixmpp client")
        pong = await ws.ping()
        await asyncio.wait_for(pong, TIMEOUT)
        ok("a WebSocket ping is answered")
        await ws.send(f"<close xmlns='{FRAMING}'/>")
        while (closing := await receive(ws, "close")).tag != tag(FRAMING, "close"):
            if closing.tag not in (tag(CLIENT, "presence"), tag(CLIENT, "message")):
                fail("close", ET.tostring(closing))
        try:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
            fail("close", "the connection stayed open after <close/>")
        except ConnectionClosed:
            pass
        ok("<close/> is answered with <close/> and the WebSocket closes")


async def expect_stream_error(frame_to_send, condition, step, binary=False):
    async with connect(URL, subprotocols=["xmpp"]) as ws:
        await open_stream(ws, step)
        await ws.send(frame_to_send.encode() if binary else frame_to_send)
        error = await receive(ws, step)
        if error.tag != tag(STREAMS, "error") or error.find(tag("urn:ietf:params:xml:ns:xmpp-streams", condition)) is None:
            fail(step, f"expected {condition}: {ET.tostring(error)}")
        closing = await receive(ws, step)
        if closing.tag != tag(FRAMING, "close"):
            fail(step, f"expected <close/> after the error: {ET.tostring(closing)}")
        try:
            await asyncio.wait_for(ws.recv(), TIMEOUT)
            fail(step, "the connection stayed open")
        except ConnectionClosed:
            pass
    ok(f"{step}: stream error {condition}, <close/>, closed")


async def bad_input(alice_name):
    await expect_stream_error(f"<presence xmlns='{CLIENT}'/><presence xmlns='{CLIENT}'/>", "not-well-formed", "two elements in one frame")
    await expect_stream_error(f"<message xmlns='{CLIENT}'><body>half", "not-well-formed", "half an element in a frame")
    await expect_stream_error(f"<presence xmlns='{CLIENT}'/><message xmlns='{CLIENT}'>", "not-well-formed", "an element and the start of another in a frame")
    await expect_stream_error(f"<presence xmlns='{CLIENT}'/>", "bad-format", "a binary frame", binary=True)
    async with connect(URL, subprotocols=["xmpp"], max_size=None) as ws:
        await open_stream(ws, "oversized frame")
        await ws.send(f"<message xmlns='{CLIENT}'><body>{'x' * 300_000}</body></message>")
        try:
            while True:
                await asyncio.wait_for(ws.recv(), TIMEOUT)
        except ConnectionClosed as closed:
            if closed.rcvd is None or closed.rcvd.code != 1009:
                fail("oversized frame", f"closed with {closed.rcvd}")
    ok("a frame over max_stanza_bytes closes the WebSocket with 1009 (message too big)")
    try:
        async with connect(URL, subprotocols=["not-xmpp"]) as ws:
            fail("wrong subprotocol", f"accepted with {ws.subprotocol}")
    except InvalidStatus as refused:
        if refused.response.status_code != 400:
            fail("wrong subprotocol", f"status {refused.response.status_code}")
    ok("a handshake without the xmpp subprotocol is refused with 400")
    try:
        async with connect(URL, subprotocols=["xmpp"], origin="https://elsewhere.example") as ws:
            fail("origin", "a page from another origin was let in")
    except InvalidStatus as refused:
        if refused.response.status_code != 403:
            fail("origin", f"status {refused.response.status_code}")
    async with connect(URL, subprotocols=["xmpp"], origin="https://chat.example") as ws:
        await open_stream(ws, "allowed origin")
    ok("websocket_origins: another origin gets 403, the listed one gets a stream")
    async with connect(URL, subprotocols=["xmpp"]) as ws:
        answer = await log_in(ws, alice_name, "not-her-password", "web")
        if isinstance(answer, str) or answer.find(tag(SASL, "not-authorized")) is None:
            fail("wrong password", f"{answer if isinstance(answer, str) else ET.tostring(answer)}")
    ok("a wrong password over WebSocket fails with not-authorized")


async def connection_limit():
    """connections_per_ip (32 by default) bounds plain HTTP connections too: the ones beyond are closed at once."""
    streams = [await asyncio.open_connection(HOST, HTTP_PORT) for _ in range(40)]
    async def was_closed(reader):
        try:
            return await asyncio.wait_for(reader.read(1), 5.0) == b""
        except asyncio.TimeoutError:
            return False
    closed = sum(await asyncio.gather(*(was_closed(reader) for reader, _ in streams)))
    for _, writer in streams:
        writer.close()
    await asyncio.sleep(0.5)
    if closed < 8:
        fail("connection limit", f"only {closed} of 40 idle connections from one address were refused")
    ok(f"HTTP connections beyond connections_per_ip from one address are closed ({closed} of 40)")


def scrape():
    with urllib.request.urlopen(f"http://{HOST}:{HTTP_PORT}/metrics", timeout=TIMEOUT) as response:
        if not response.headers.get("Content-Type", "").startswith("text/plain; version=0.0.4"):
            fail("metrics", f"content type {response.headers.get('Content-Type')}")
        figures = {}
        for line in response.read().decode().splitlines():
            if line and not line.startswith("#"):
                name, value = line.rsplit(" ", 1)
                figures[name] = float(value)
        return figures


async def metrics():
    """What this scenario did shows in /metrics (Prometheus text, scraped from loopback without a token)."""
    async with connect(URL, subprotocols=["xmpp"]) as ws:
        await open_stream(ws, "metrics")
        during = scrape()
    websocket = 'xmpp_connections{listener="websocket"}'
    # The server notices the close a moment later: scraped again until the gauge drops (or TIMEOUT).
    after = scrape()
    for _ in range(int(TIMEOUT * 10)):
        if after.get(websocket, 1) < during.get(websocket, 0):
            break
        await asyncio.sleep(0.1)
        after = scrape()
    expected = {
        'xmpp_logins_total{result="success"}': 2, 'xmpp_logins_total{result="failure"}': 1,
        'xmpp_stanzas_total{direction="in",kind="message"}': 2, 'xmpp_stanzas_total{direction="out",kind="message"}': 2,
        'xmpp_stanzas_total{direction="in",kind="iq"}': 1, "xmpp_received_bytes_total": 1000, "xmpp_sent_bytes_total": 1000,
        "xmpp_routing_seconds_count": 2,
        "process_resident_memory_bytes": 1_000_000, 'xmpp_module_figure{name="mam_write_queue_peak"}': 0,
        'xmpp_module_figure{name="muc_rooms"}': 0, 'xmpp_module_figure{name="offline_messages"}': 0,
    }
    for name, least in expected.items():
        if after.get(name, -1) < least:
            fail("metrics", f"{name} = {after.get(name)}, expected at least {least}")
    if during.get(websocket, 0) < 1 or after.get(websocket, 1) > during[websocket] - 1 + 0.5 and after[websocket] >= during[websocket]:
        fail("metrics", f"open WebSocket connections: {during.get(websocket)} while connected, {after.get(websocket)} after")
    ok("/metrics counts logins (and failures), stanzas by kind and direction, bytes, routing times and open WebSockets, "
       "and has the modules' figures")


async def main():
    alice_name, bob_name = f"ws-alice-{SUFFIX}", f"ws-bob-{SUFFIX}"
    bob_jid = f"{bob_name}@{DOMAIN}"
    alice = Client(alice_name, "wonderland", register=True)
    await alice.login()
    await alice.logout()
    bob = Client(bob_name, "builder", register=True, resource="desk")
    await bob.login()
    ok("accounts registered with slixmpp over c2s")
    await discovery()
    await chat(alice_name, bob, bob_jid)
    await bad_input(alice_name)
    await connection_limit()
    await metrics()
    await bob.logout()
    print("scenario complete", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
