// xmppctl: administration of a running xmppd (accounts, sessions, statistics). Filled in with the server.
print("""
    usage: xmppctl <command> [arguments]

    commands (arriving with the server): adduser, passwd, deluser, users, sessions, kick, stats
    """)
