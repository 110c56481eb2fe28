// XMPPServer: the assembly of xmppd: listeners (5222 STARTTLS, 5223 direct TLS), configuration and the
// service group. Empty until the server milestone fills it.
