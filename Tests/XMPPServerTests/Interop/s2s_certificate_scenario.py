"""Certificates on server-to-server streams: a server under s2s_secure_auth (DOMAIN_B) takes a remote domain only on
a certificate from its CA that names it (SASL EXTERNAL, XEP-0178; dialback without a callback, XEP-0344), and refuses
every other way in.

usage: python3 -u s2s_certificate_scenario.py HOST S2S_PORT_B DOMAIN_A DOMAIN_B CA CERT_A KEY_A MALLORY_CERT MALLORY_KEY
                                              ROGUE_CERT ROGUE_KEY

CERT_A names DOMAIN_A and comes from CA; MALLORY_CERT comes from CA but names mallory.test; ROGUE_CERT names DOMAIN_A
but comes from another CA. Each step prints "ok <step>"; the first failure prints "FAIL <step>: <why>" and exits 1.
Run by Tests/XMPPServerTests/FederationInteropTests.swift.
"""
import asyncio
import base64
import ssl
import sys

HOST, S2S_PORT_B, DOMAIN_A, DOMAIN_B, CA = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
CERT_A, KEY_A, MALLORY_CERT, MALLORY_KEY, ROGUE_CERT, ROGUE_KEY = sys.argv[6:12]
TIMEOUT = 15


def fail(step, why):
    print(f"FAIL {step}: {why}", flush=True)
    sys.exit(1)


def ok(step):
    print(f"ok {step}", flush=True)


class Stream:
    """A server-to-server stream to DOMAIN_B claiming `claimed`, secured with STARTTLS, presenting `cert` (if any)."""

    def __init__(self, claimed):
        self.claimed = claimed
        self.header = (f"<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' "
                       f"xmlns:db='jabber:server:dialback' from='{claimed}' to='{DOMAIN_B}' version='1.0'>").encode()

    async def open(self, cert=None, key=None):
        self.reader, self.writer = await asyncio.open_connection(HOST, S2S_PORT_B)
        self.writer.write(self.header)
        await self.read_until(b"</stream:features>")
        self.writer.write(b"<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        await self.read_until(b"proceed")
        # DOMAIN_B's own certificate must verify for its name with the CA.
        context = ssl.create_default_context(cafile=CA)
        if cert:
            context.load_cert_chain(cert, key)
        await self.writer.start_tls(context, server_hostname=DOMAIN_B)
        self.writer.write(self.header)
        return await self.read_until(b"</stream:features>")

    async def read_until(self, *markers):
        data = b""
        while not any(marker in data for marker in markers):
            chunk = await asyncio.wait_for(self.reader.read(4096), TIMEOUT)
            if not chunk:
                break
            data += chunk
        return data.decode(errors="replace")

    async def send(self, text, *markers):
        self.writer.write(text.encode())
        return await self.read_until(*markers)

    def close(self):
        self.writer.close()


def external(authzid):
    text = base64.b64encode(authzid.encode()).decode() if authzid else "="
    return f"<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='EXTERNAL'>{text}</auth>"


async def main():
    # The right certificate: EXTERNAL is offered, for the stream's domain only.
    stream = Stream(DOMAIN_A)
    features = await stream.open(CERT_A, KEY_A)
    if "EXTERNAL" not in features:
        fail("EXTERNAL offered", features)
    answer = await stream.send(external("gamma.test"), b"</failure>", b"<success")
    if "invalid-authzid" not in answer:
        fail("authzid of another domain", answer)
    answer = await stream.send(external(DOMAIN_A), b"</failure>", b"<success")
    if "success" not in answer:
        fail("EXTERNAL", answer)
    features = await stream.send(stream.header.decode(), b"</stream:features>")
    if "mechanisms" in features or "<stream:stream" not in features:
        fail("restarted stream", features)
    # A domain the certificate does not name gets nothing under s2s_secure_auth, not even a dialback check.
    answer = await stream.send(f"<db:result from='gamma.test' to='{DOMAIN_B}'>{'0' * 64}</db:result>", b"</error>", b"</stream:stream>")
    if "type='error'" not in answer and 'type="error"' not in answer or "not-authorized" not in answer:
        fail("dialback for a domain the certificate does not name", answer)
    stream.close()
    ok("a certificate from the CA naming the domain: EXTERNAL offered and accepted (not for another authzid), "
       "no mechanisms after the restart, dialback for another domain refused")

    # Dialback on the same certificate needs no callback (XEP-0344): even a key that is not the domain's is taken,
    # because the certificate already proves the domain.
    stream = Stream(DOMAIN_A)
    await stream.open(CERT_A, KEY_A)
    answer = await stream.send(f"<db:result from='{DOMAIN_A}' to='{DOMAIN_B}'>{'0' * 64}</db:result>", b"type=", b"</stream:stream>")
    if "type='valid'" not in answer and 'type="valid"' not in answer:
        fail("dialback with a certificate", answer)
    stream.close()
    ok("dialback for the domain the certificate names is taken without a callback")

    # The CA's certificate for another name, another CA's certificate for the name, and no certificate at all.
    for label, cert, key in [("a certificate for another name", MALLORY_CERT, MALLORY_KEY),
                             ("a certificate from another CA", ROGUE_CERT, ROGUE_KEY),
                             ("no certificate", None, None)]:
        stream = Stream(DOMAIN_A)
        features = await stream.open(cert, key)
        if "EXTERNAL" in features:
            fail(f"EXTERNAL offered for {label}", features)
        answer = await stream.send(external(DOMAIN_A), b"</failure>", b"<success")
        if "not-authorized" not in answer:
            fail(f"EXTERNAL with {label}", answer)
        answer = await stream.send(f"<db:result from='{DOMAIN_A}' to='{DOMAIN_B}'>{'0' * 64}</db:result>",
                                   b"</stream:stream>")
        if "not-authorized" not in answer:
            fail(f"dialback with {label}", answer)
        stream.close()
    ok("refused: a certificate from the CA for another name, one from another CA, none (no EXTERNAL, "
       "EXTERNAL not-authorized, dialback not-authorized and the stream closed)")
    print("scenario complete", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
