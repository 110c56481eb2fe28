// xmpp: a command-line chat client built on XMPPClient. Filled in with the client library.
print("""
    usage: xmpp <command> [arguments]

    commands (arriving with the client library): register, passwd, send JID TEXT, roster, chat JID, status
    """)
