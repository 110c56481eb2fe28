"""Interop scenario for ad-hoc commands: slixmpp's XEP-0050 plugin lists and runs xmppd's commands, as an
administrator (XEP-0133 add-user) and as a plain user (refused; ping allowed).

usage: python3 -u slixmpp_adhoc_scenario.py HOST PORT TLS_PORT DOMAIN CA_CERT
The server must list adhoc-admin@DOMAIN in its admins. Each step prints "ok <step>"; the first failure prints
"FAIL <step>: <why>" and exits 1. Run by Tests/XMPPServerTests/SlixmppInteropTests.swift.
"""
import asyncio

from slixmpp.exceptions import IqError

from slixmpp_scenario import DOMAIN, SUFFIX, TIMEOUT, Client, fail, ok

ADMIN = "http://jabber.org/protocol/admin"
ADD_USER = ADMIN + "#add-user"


class CommandClient(Client):
    """The scenario's client with slixmpp's ad-hoc commands plugin."""

    def __init__(self, user, password, register=False):
        super().__init__(user, password, register=register)
        self.register_plugin("xep_0050")

    async def command_nodes(self):
        result = await self.plugin["xep_0050"].get_commands(jid=DOMAIN, timeout=TIMEOUT)
        return {item[1] for item in result["disco_items"]["items"]}

    async def execute(self, node, session=None, action="execute", values=None):
        iq = self.make_iq_set(ito=DOMAIN)
        iq["command"]["node"] = node
        iq["command"]["action"] = action
        if session:
            iq["command"]["sessionid"] = session
        if values is not None:
            form = iq["command"]["form"]
            form["type"] = "submit"
            form.add_field(var="FORM_TYPE", ftype="hidden", value=ADMIN)
            for var, value in values.items():
                form.add_field(var=var, value=value)
        return await iq.send(timeout=TIMEOUT)


async def main():
    admin = CommandClient("adhoc-admin", "root-pw", register=True)
    await admin.login()
    user = CommandClient(f"adhoc-user-{SUFFIX}", "pw", register=True)
    await user.login()
    ok("an administrator and a user logged in")

    admin_nodes, user_nodes = await admin.command_nodes(), await user.command_nodes()
    if ADD_USER not in admin_nodes or "ping" not in admin_nodes:
        fail("command list", f"admin sees {sorted(admin_nodes)}")
    if ADD_USER in user_nodes or "ping" not in user_nodes:
        fail("command list", f"user sees {sorted(user_nodes)}")
    ok("each sees the commands it may run")

    first = await admin.execute(ADD_USER)
    command = first["command"]
    fields = set(command["form"].get_fields().keys())
    if command["status"] != "executing" or not {"accountjid", "password"} <= fields:
        fail("add-user form", str(first))
    carol = f"adhoc-carol-{SUFFIX}"
    done = await admin.execute(ADD_USER, session=command["sessionid"], action="complete",
                               values={"accountjid": f"{carol}@{DOMAIN}", "password": "c4rol", "password-verify": "c4rol"})
    notes = done["command"]["notes"]
    if done["command"]["status"] != "completed" or not notes or notes[0][0] != "info":
        fail("add-user completed", str(done))
    ok(f"add-user completes: {notes[0][1]}")
    created = Client(carol, "c4rol")
    await created.login()
    await created.logout()
    ok("the added account logs in")

    try:
        await user.execute(ADD_USER)
        fail("refusal", "a plain user ran add-user")
    except IqError as error:
        if error.iq["error"]["condition"] != "forbidden":
            fail("refusal", str(error.iq))
    ok("a plain user is refused with forbidden")
    pong = await user.execute("ping")
    if pong["command"]["status"] != "completed" or pong["command"]["notes"][0][1] != "Pong":
        fail("ping", str(pong))
    ok("ping answers with a note")

    for client in (admin, user):
        await client.logout()
    print("scenario complete", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
