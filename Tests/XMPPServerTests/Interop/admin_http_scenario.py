"""The admin console's HTTP side without a browser: the JSON API (docs/ADMIN-API.md) and the refusals of bad requests.

usage: python3 -u admin_http_scenario.py HOST PORT TLS_PORT DOMAIN CA_CERT HTTP_PORT

The server runs with admins = api-admin@DOMAIN and auth_failures_per_account = 3. Each step prints "ok <step>"; the first
failure prints "FAIL <step>: <why>" and exits 1. Run by Tests/XMPPServerTests/AdminConsoleTests.swift.
"""
import asyncio
import base64
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

import slixmpp

from slixmpp_scenario import DOMAIN, HOST, SUFFIX, TIMEOUT, Client, fail, ok

HTTP_PORT = int(sys.argv[6])
BASE = f"http://{HOST}:{HTTP_PORT}"
ADMIN = f"api-admin@{DOMAIN}"


def call(method, path, body=None, user=ADMIN, password="api-secret", content_type="application/json", headers=None, raw=None):
    """(status, parsed JSON or text, headers) of one request."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    request = urllib.request.Request(BASE + path, data=data, method=method)
    if user:
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    if data is not None:
        request.add_header("Content-Type", content_type)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            status, text, response_headers = response.status, response.read().decode(), response.headers
    except urllib.error.HTTPError as error:
        status, text, response_headers = error.code, error.read().decode(), error.headers
    try:
        return status, json.loads(text), response_headers
    except ValueError:
        return status, text, response_headers


def expect(step, got, wanted):
    if got != wanted:
        fail(step, f"{got} instead of {wanted}")


async def main():
    for user, password in [("api-admin", "api-secret"), (f"plain{SUFFIX}", "plain-secret")]:
        client = Client(user, password, register=True)
        client.connect(host=HOST, port=client.port)
        await asyncio.wait_for(client.started, TIMEOUT)
        client.disconnect()

    status, body, headers = call("GET", "/admin/api/overview", user=None)
    expect("no credentials", status, 401)
    if "Basic" not in headers.get("WWW-Authenticate", ""):
        fail("no credentials", headers)
    expect("non-administrator", call("GET", "/admin/api/overview", user=f"plain{SUFFIX}@{DOMAIN}", password="plain-secret")[0], 401)
    status, overview, _ = call("GET", "/admin/api/overview")
    if status != 200 or overview["domains"] != [DOMAIN] or overview["accounts"] < 2:
        fail("overview", overview)
    ok("API: 401 without credentials or for a non-administrator; overview for the administrator")

    jid = f"dora{SUFFIX}@{DOMAIN}"
    expect("form body refused", call("POST", "/admin/api/users", raw=b"jid=x&password=y",
                                     content_type="application/x-www-form-urlencoded")[0], 415)
    expect("create", call("POST", "/admin/api/users", {"jid": jid, "password": "one"})[0], 201)
    status, body, _ = call("POST", "/admin/api/users", {"jid": jid, "password": "one"})
    if status != 409 or body.get("error") != "conflict":
        fail("duplicate", (status, body))
    expect("bad username", call("POST", "/admin/api/users", {"jid": "no body@x@y", "password": "one"})[0], 400)
    expect("password", call("PUT", f"/admin/api/users/{urllib.parse.quote(jid)}/password", {"password": "two"})[0], 200)
    dora = Client(f"dora{SUFFIX}", "two")
    dora.connect(host=HOST, port=dora.port)
    await asyncio.wait_for(dora.started, TIMEOUT)
    await asyncio.sleep(0.3)
    status, details, _ = call("GET", f"/admin/api/users/{urllib.parse.quote(jid)}")
    if status != 200 or len(details["sessions"]) != 1 or details["sessions"][0]["tlsVersion"] is None:
        fail("details", details)
    status, sessions, _ = call("GET", "/admin/api/sessions")
    if not any(s["jid"] == f"{jid}/interop" for s in sessions):
        fail("sessions", sessions)
    ok("API: create (JSON only; 409 twice; 400 for a bad name), set password (the new one logs in), details and sessions")

    room = f"api{SUFFIX}@conference.{DOMAIN}"
    expect("room", call("POST", "/admin/api/rooms", {"jid": room, "title": "API room", "owner": jid})[0], 201)
    expect("room twice", call("POST", "/admin/api/rooms", {"jid": room})[0], 409)
    status, details, _ = call("GET", f"/admin/api/rooms/{urllib.parse.quote(room)}")
    if status != 200 or details["affiliations"].get(jid) != "owner" or not details["summary"]["isPersistent"]:
        fail("room details", details)
    expect("no service", call("POST", "/admin/api/rooms", {"jid": f"x@nowhere.{DOMAIN}"})[0], 404)
    expect("destroy", call("DELETE", f"/admin/api/rooms/{urllib.parse.quote(room)}")[0], 200)
    expect("destroy twice", call("DELETE", f"/admin/api/rooms/{urllib.parse.quote(room)}")[0], 404)
    ok("API: rooms created (owner named), 409 twice, 404 for an unknown service, destroyed, 404 after")

    disconnected = asyncio.get_event_loop().create_future()
    dora.add_event_handler("disconnected", lambda _: disconnected.done() or disconnected.set_result(True))
    status, body, _ = call("DELETE", f"/admin/api/sessions/{urllib.parse.quote(jid)}")
    if status != 200 or body.get("kicked") != 1:
        fail("kick", body)
    await asyncio.wait_for(disconnected, TIMEOUT)
    expect("delete", call("DELETE", f"/admin/api/users/{urllib.parse.quote(jid)}")[0], 200)
    expect("deleted", call("GET", f"/admin/api/users/{urllib.parse.quote(jid)}")[0], 404)
    ok("API: kick (the client is disconnected), delete, 404 after")

    status, _, _ = call("POST", "/admin/api/users", raw=b"{" + b" " * 20000 + b"}")
    expect("oversized body", status, 413)
    status, _, _ = call("GET", "/admin/api/overview")
    expect("after oversized body", status, 200)
    ok("a body over 16 KiB gets 413; the next request is served")

    # The console's cookie: the login form needs its own token; API writes with the cookie need X-CSRF-Token.
    status, _, _ = call("POST", "/admin/login", raw=urllib.parse.urlencode({"jid": ADMIN, "password": "api-secret"}).encode(),
                        user=None, content_type="application/x-www-form-urlencoded")
    expect("login without token", status, 403)
    with urllib.request.urlopen(BASE + "/admin/login", timeout=TIMEOUT) as response:
        token = re.search(r'name="csrf" value="([0-9a-f]+)"', response.read().decode()).group(1)
        login_cookie = response.headers["Set-Cookie"].split(";")[0]
    opener = urllib.request.build_opener(type("NoRedirect", (urllib.request.HTTPRedirectHandler,),
                                               {"redirect_request": lambda *args: None}))
    request = urllib.request.Request(BASE + "/admin/login", method="POST", headers={"Cookie": login_cookie},
                                     data=urllib.parse.urlencode({"jid": ADMIN, "password": "api-secret", "csrf": token}).encode())
    try:
        opener.open(request, timeout=TIMEOUT)
        fail("login", "no redirect")
    except urllib.error.HTTPError as error:
        expect("login", error.code, 303)
        session_cookie = [c for c in error.headers.get_all("Set-Cookie") if c.startswith("xmppd_admin=")][0].split(";")[0]
    status, _, _ = call("POST", "/admin/api/users", {"jid": f"eve{SUFFIX}", "password": "x"}, user=None, headers={"Cookie": session_cookie})
    expect("cookie write without CSRF header", status, 403)
    status, _, _ = call("GET", "/admin/api/users", user=None, headers={"Cookie": session_cookie})
    expect("cookie read", status, 200)
    ok("login form needs its token; with the cookie, reads work and writes need X-CSRF-Token")

    # Operators' figures: a message to an offline account waits in its queue; /metrics shows the queue, the bytes sent
    # and the storage statements' latency histogram (SQLite).
    sender = Client(f"sender{SUFFIX}", "sender-secret", register=True)
    sender.connect(host=HOST, port=sender.port)
    await asyncio.wait_for(sender.started, TIMEOUT)
    sender.send_message(mto=f"plain{SUFFIX}@{DOMAIN}", mbody="for later", mtype="chat")
    # The server takes a connection's stanzas in order: a ping answered after the message means it is stored.
    await sender.plugin["xep_0199"].ping(jid=slixmpp.JID(DOMAIN), timeout=TIMEOUT)
    sender.disconnect()
    with urllib.request.urlopen(BASE + "/metrics", timeout=TIMEOUT) as response:
        figures = dict(line.rsplit(" ", 1) for line in response.read().decode().splitlines() if line and not line.startswith("#"))
    wanted = {'xmpp_module_figure{name="offline_messages"}': 1, 'xmpp_module_figure{name="offline_accounts"}': 1,
              "xmpp_sent_bytes_total": 1000, "xmpp_storage_statement_seconds_count": 10}
    for name, least in wanted.items():
        if float(figures.get(name, -1)) < least:
            fail("metrics", f"{name} = {figures.get(name)}, expected at least {least}")
    status, overview, _ = call("GET", "/admin/api/overview")
    if overview["figures"].get("offline_messages", 0) < 1:
        fail("overview figures", overview)
    ok("/metrics and the overview show the offline queue, bytes sent and storage statement times")

    # Wrong passwords are throttled like c2s logins: after 3 failures for the account, even the right one is refused.
    for _ in range(3):
        expect("wrong password", call("GET", "/admin/api/overview", password="wrong")[0], 401)
    expect("throttled", call("GET", "/admin/api/overview")[0], 401)
    ok("wrong passwords throttle the account (the right password is refused for a while)")
    print("scenario complete", flush=True)


asyncio.run(main())
