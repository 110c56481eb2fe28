"""Interop scenario for HTTP file upload (XEP-0363): slixmpp's own xep_0363 plugin (which PUTs with aiohttp) against
xmppd's upload service and HTTPS listener, then downloads, ranges and the refusals over plain HTTP requests.

usage: python3 -u slixmpp_upload_scenario.py HOST PORT TLS_PORT DOMAIN CA_CERT

The server runs with upload_max_file_bytes = 1048576 and upload_quota_bytes = 3145728. Each step prints
"ok <step>"; the first failure prints "FAIL <step>: <why>" and exits 1. Run by
Tests/XMPPServerTests/HTTPUploadInteropTests.swift.
"""
import asyncio
import hashlib
import io
import os
import ssl
import urllib.error
import urllib.request

import slixmpp
from slixmpp.exceptions import IqError

from slixmpp_scenario import CA, DOMAIN, SUFFIX, TIMEOUT, Client, fail, ok

# aiohttp (slixmpp's HTTP client) trusts what the default SSL context trusts: here, the server's own certificate.
os.environ["SSL_CERT_FILE"] = CA
UPLOAD = f"upload.{DOMAIN}"
MAX_FILE = 1_048_576
CONTEXT = ssl.create_default_context(cafile=CA)


class UploadClient(Client):
    def __init__(self, user, password, register=False):
        super().__init__(user, password, register=register)
        self.register_plugin("xep_0363")


def http(method, url, data=None, headers=None):
    """Status, headers and body of one request; HTTP errors are answers too."""
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT, context=CONTEXT) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


async def in_thread(*args, **kwargs):
    return await asyncio.get_running_loop().run_in_executor(None, lambda: http(*args, **kwargs))


async def slot(client, filename, size, content_type=None):
    iq = await client.plugin["xep_0363"].request_slot(slixmpp.JID(UPLOAD), filename, size, content_type, timeout=TIMEOUT)
    return iq["http_upload_slot"]["put"]["url"], iq["http_upload_slot"]["get"]["url"]


async def upload_and_download(alice):
    info = await alice.plugin["xep_0030"].get_info(jid=UPLOAD, timeout=TIMEOUT)
    if "urn:xmpp:http:upload:0" not in info["disco_info"]["features"]:
        fail("disco", str(info))
    sizes = [form["values"].get("max-file-size") for form in info["disco_info"].iterables]
    if str(MAX_FILE) not in [str(size) for size in sizes]:
        fail("disco max-file-size", str(sizes))
    ok("disco: the upload service announces urn:xmpp:http:upload:0 with max-file-size")
    content = os.urandom(300_000)
    url = await alice.plugin["xep_0363"].upload_file(
        "holiday photo.jpg", size=len(content), content_type="image/jpeg", input_file=io.BytesIO(content),
        domain=slixmpp.JID(DOMAIN), timeout=TIMEOUT)
    if not url.startswith("https://") or not url.endswith("/holiday%20photo.jpg"):
        fail("upload", f"url {url}")
    ok("slixmpp uploads 300 kB with its xep_0363 plugin (slot, PUT over HTTPS) and gets the URL, file name kept")
    status, headers, body = await in_thread("GET", url)
    if status != 200 or hashlib.sha256(body).digest() != hashlib.sha256(content).digest():
        fail("download", f"status {status}, {len(body)} bytes")
    if headers.get("Content-Type") != "image/jpeg" or "sandbox" not in (headers.get("Content-Security-Policy") or ""):
        fail("download headers", str(headers))
    ok("GET returns the same bytes with the announced type, sandboxed")
    status, headers, body = await in_thread("GET", url, headers={"Range": "bytes=1000-1999"})
    if status != 206 or body != content[1000:2000] or headers.get("Content-Range") != f"bytes 1000-1999/{len(content)}":
        fail("range", f"{status} {headers.get('Content-Range')} {len(body)}")
    status, headers, body = await in_thread("GET", url, headers={"Range": "bytes=-10"})
    if status != 206 or body != content[-10:]:
        fail("suffix range", f"{status} {len(body)}")
    status, headers, _ = await in_thread("GET", url, headers={"Range": f"bytes={len(content)}-"})
    if status != 416 or headers.get("Content-Range") != f"bytes */{len(content)}":
        fail("range past the end", f"{status} {headers.get('Content-Range')}")
    status, headers, body = await in_thread("HEAD", url)
    if status != 200 or headers.get("Content-Length") != str(len(content)) or body:
        fail("head", f"{status} {headers.get('Content-Length')}")
    ok("ranges: 206 with Content-Range for bytes=a-b and bytes=-n, 416 past the end; HEAD gives the length")
    return url


async def refusals(alice, url):
    status, _, _ = await in_thread("PUT", url, data=b"x" * 10, headers={"Content-Type": "image/jpeg"})
    if status != 403:
        fail("reused slot", f"status {status}")
    put, _ = await slot(alice, "notes.txt", 100, "text/plain")
    status, _, _ = await in_thread("PUT", put, data=b"x" * 99, headers={"Content-Type": "text/plain"})
    if status != 400:
        fail("wrong length", f"status {status}")
    put, _ = await slot(alice, "notes.txt", 100, "text/plain")
    status, _, _ = await in_thread("PUT", put, data=b"x" * 100, headers={"Content-Type": "text/html"})
    if status != 400:
        fail("wrong type", f"status {status}")
    forged = put.rsplit("/", 2)[0] + "/" + "0" * 64 + "/notes.txt"
    status, _, _ = await in_thread("PUT", forged, data=b"x" * 100, headers={"Content-Type": "text/plain"})
    if status != 403:
        fail("unknown slot", f"status {status}")
    status, _, _ = await in_thread("GET", forged)
    if status != 404:
        fail("unknown file", f"status {status}")
    put, _ = await slot(alice, "cut.bin", 100_000)
    host, port = put.split("/")[2].rsplit(":", 1)
    reader, writer = await asyncio.open_connection("127.0.0.1", int(port), ssl=CONTEXT, server_hostname=host)
    path = "/" + put.split("/", 3)[3]
    writer.write(f"PUT {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: 100000\r\n\r\n".encode() + b"y" * 5000)
    await writer.drain()
    await asyncio.sleep(0.3)
    writer.close()
    await asyncio.sleep(0.5)
    status, _, _ = await in_thread("GET", put)
    if status != 404:
        fail("cut-off upload", f"status {status}")
    status, _, _ = await in_thread("PUT", put, data=b"y" * 100_000)
    if status != 403:
        fail("cut-off upload", f"the slot was still usable: {status}")
    ok("PUT refused: a used slot (403), a wrong length (400), a wrong type (400), a made-up slot (403); GET of none 404; an upload cut off midway is not served and its slot is gone")
    try:
        await slot(alice, "big.iso", MAX_FILE + 1)
        fail("file too large", "a slot was given")
    except IqError as error:
        condition = error.iq["error"]["condition"]
        too_large = error.iq.xml.find(".//{urn:xmpp:http:upload:0}max-file-size")
        if condition != "not-acceptable" or too_large is None or too_large.text != str(MAX_FILE):
            fail("file too large", str(error.iq))
    ok("a file over the limit: not-acceptable with file-too-large and max-file-size")
    granted = 0
    try:
        for _ in range(5):
            await slot(alice, "part.bin", MAX_FILE)
            granted += 1
        fail("quota", "five 1 MiB slots on a 3 MiB quota")
    except IqError as error:
        if error.iq["error"]["condition"] != "resource-constraint" or error.iq["error"]["type"] != "wait":
            fail("quota", str(error.iq))
    if granted != 2:
        fail("quota", f"{granted} slots before the quota, expected 2 (300 kB already stored)")
    ok("the quota counts stored files and open slots: resource-constraint (wait) beyond it")


async def foreign_and_share(alice, bob, url):
    bob_jid = slixmpp.JID(f"{bob.boundjid.bare}")
    message = alice.make_message(mto=bob_jid, mbody=url, mtype="chat")
    message["oob"]["url"] = url
    message.send()
    for _ in range(50):
        got = await asyncio.wait_for(bob.messages.get(), TIMEOUT)
        if got["body"] == url:
            break
    if got["oob"]["url"] != url:
        fail("share", str(got))
    status, _, body = await in_thread("GET", got["oob"]["url"])
    if status != 200 or len(body) != 300_000:
        fail("share", f"bob's download: {status}")
    ok("the URL shared in a message with XEP-0066 OOB downloads for the recipient")


async def main():
    alice = UploadClient(f"up-alice-{SUFFIX}", "wonderland", register=True)
    alice.register_plugin("xep_0066")
    await alice.login()
    bob = UploadClient(f"up-bob-{SUFFIX}", "builder", register=True)
    bob.register_plugin("xep_0066")
    await bob.login()
    ok("two slixmpp clients logged in")
    url = await upload_and_download(alice)
    await refusals(alice, url)
    await foreign_and_share(alice, bob, url)
    for client in (alice, bob):
        await client.logout()
    print("scenario complete", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
