// xmppd: the SwiftXMPP server. The wire core (XMPPCore) is in place; the listeners, router and modules that
// make this a working server are the next step (see docs/ARCHITECTURE.md).
print("""
    usage: xmppd [--config FILE] [--domain DOMAIN] [--data-dir DIR] [--bind ADDRESS] [--c2s-port PORT] [--c2s-tls-port PORT]

    xmppd is not yet able to serve clients: this build contains the protocol core (XML stream parser, JIDs,
    stanzas, SASL, stream negotiation). The server itself is under construction.
    """)
