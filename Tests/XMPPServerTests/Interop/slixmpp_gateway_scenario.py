"""Gateway scenario: biboumi (Debian's XMPP <-> IRC gateway, an external component of xmppd, XEP-0114) between a
slixmpp client of xmppd and a plain IRC client of ngircd.

usage: python3 -u slixmpp_gateway_scenario.py HOST PORT TLS_PORT DOMAIN CA_CERT GATEWAY IRC_PORT

GATEWAY is biboumi's component domain; the IRC server is 127.0.0.1 on IRC_PORT. Each step prints "ok <step>"; the
first failure prints "FAIL <step>: <why>" and exits 1. Run by Tests/XMPPServerTests/GatewayInteropTests.swift.
"""
import asyncio
import sys

import slixmpp
from slixmpp.exceptions import IqError, IqTimeout

from slixmpp_scenario import HOST, SUFFIX, TIMEOUT, Client, fail, next_matching, ok

GATEWAY, IRC_PORT = sys.argv[6], int(sys.argv[7])
CHANNEL = f"#room{SUFFIX}%127.0.0.1@{GATEWAY}"
IRC_NICK = f"bob{SUFFIX}"


class IRC:
    """A minimal IRC client: registers, joins, sends and waits for lines."""

    async def connect(self):
        self.reader, self.writer = await asyncio.open_connection(HOST, IRC_PORT)
        self.buffer = b""
        self.send(f"NICK {IRC_NICK}", f"USER {IRC_NICK} 0 * :Bob")
        await self.expect(lambda line: f" 001 {IRC_NICK} " in line, "IRC registration")

    def send(self, *lines):
        for line in lines:
            self.writer.write((line + "\r\n").encode())

    async def expect(self, predicate, what):
        async def loop():
            while True:
                while b"\r\n" in self.buffer:
                    raw, self.buffer = self.buffer.split(b"\r\n", 1)
                    line = raw.decode(errors="replace")
                    if line.startswith("PING"):
                        self.send("PONG" + line[4:])
                    if predicate(line):
                        return line
                chunk = await self.reader.read(4096)
                if not chunk:
                    fail(what, "the IRC server closed the connection")
                self.buffer += chunk
        try:
            return await asyncio.wait_for(loop(), TIMEOUT)
        except asyncio.TimeoutError:
            fail(what, "timed out")


async def gateway_ready(alice):
    """biboumi connects to xmppd a moment after it starts: its disco identity says it is there."""
    deadline = asyncio.get_running_loop().time() + TIMEOUT
    while True:
        try:
            info = await alice.plugin["xep_0030"].get_info(jid=GATEWAY, timeout=5)
            identities = [(category, kind) for category, kind, _, _ in info["disco_info"]["identities"]]
            if ("conference", "irc") not in identities:
                fail("gateway disco", str(identities))
            return
        except (IqError, IqTimeout):
            if asyncio.get_running_loop().time() > deadline:
                fail("gateway", "biboumi did not connect to the component port")
            await asyncio.sleep(0.5)


async def main():
    alice = Client(f"gw-alice-{SUFFIX}", "wonderland", register=True)
    await alice.login()
    await gateway_ready(alice)
    ok("biboumi connects to xmppd's component port and answers disco#info as an IRC gateway (conference/irc)")

    irc = IRC()
    await irc.connect()
    channel_name = f"#room{SUFFIX}"
    irc.send(f"JOIN {channel_name}")
    await irc.expect(lambda line: f" JOIN" in line and channel_name in line, "the IRC user joins the channel")

    await alice.plugin["xep_0045"].join_muc_wait(slixmpp.JID(CHANNEL), "alice", timeout=TIMEOUT, maxchars=0)
    await irc.expect(lambda line: line.startswith(":alice!") and " JOIN" in line, "IRC sees alice join")
    roster = alice.plugin["xep_0045"].get_roster(CHANNEL)
    if IRC_NICK not in roster:
        fail("occupants", f"{IRC_NICK} not among {roster}")
    ok("an xmppd user joins an IRC channel through the gateway as a chat room; the IRC user is an occupant, and IRC sees the join")

    alice.send_message(mto=CHANNEL, mbody="hello from XMPP", mtype="groupchat")
    await irc.expect(lambda line: line.startswith(":alice!") and "PRIVMSG" in line and "hello from XMPP" in line,
                     "IRC gets alice's message")
    irc.send(f"PRIVMSG {channel_name} :hello from IRC")
    got = await next_matching(alice.groupchat, lambda m: m["body"] == "hello from IRC", "alice gets the IRC message")
    if got["from"] != f"{CHANNEL}/{IRC_NICK}":
        fail("channel message", f"from {got['from']}")
    ok("chat in the channel both ways: XMPP groupchat to IRC PRIVMSG and back")

    irc.send(f"PRIVMSG alice :psst")
    got = await next_matching(alice.messages, lambda m: m["body"] == "psst", "alice gets the IRC private message")
    alice.send_message(mto=got["from"], mbody="psst back", mtype="chat")
    await irc.expect(lambda line: line.startswith(":alice!") and f"PRIVMSG {IRC_NICK} :psst back" in line,
                     "IRC gets alice's private answer")
    ok(f"private messages both ways (the IRC user is {got['from']} on the XMPP side)")

    alice.plugin["xep_0045"].leave_muc(slixmpp.JID(CHANNEL), "alice")
    await irc.expect(lambda line: line.startswith(":alice!") and (" PART" in line or " QUIT" in line), "IRC sees alice leave")
    ok("leaving the room parts the IRC channel")
    await alice.logout()
    print("scenario complete", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
