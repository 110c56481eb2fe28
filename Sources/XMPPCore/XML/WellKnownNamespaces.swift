/// Namespace URIs common on XMPP streams, as string literals.
///
/// The parser's ``NamespaceInterner`` starts with these, so an element in one of them shares this literal's
/// storage: no allocation when it is parsed, and no atomic reference counting when it is copied or dropped
/// (literals are immortal). Adding a namespace here is safe; its order does not matter.
enum WellKnownNamespaces {
    static let all: [String] = [
        "jabber:client", "jabber:server", "jabber:component:accept",
        "http://etherx.jabber.org/streams", "http://www.w3.org/XML/1998/namespace",
        "urn:ietf:params:xml:ns:xmpp-streams", "urn:ietf:params:xml:ns:xmpp-stanzas",
        "urn:ietf:params:xml:ns:xmpp-tls", "urn:ietf:params:xml:ns:xmpp-sasl",
        "urn:ietf:params:xml:ns:xmpp-bind", "urn:ietf:params:xml:ns:xmpp-session",
        "jabber:iq:roster", "jabber:iq:register", "jabber:iq:version", "jabber:iq:last", "jabber:iq:private",
        "jabber:x:data", "jabber:x:oob", "jabber:x:conference", "vcard-temp", "vcard-temp:x:update",
        "http://jabber.org/protocol/disco#info", "http://jabber.org/protocol/disco#items",
        "http://jabber.org/protocol/caps", "http://jabber.org/protocol/chatstates",
        "http://jabber.org/protocol/muc", "http://jabber.org/protocol/muc#user",
        "http://jabber.org/protocol/muc#admin", "http://jabber.org/protocol/muc#owner",
        "http://jabber.org/protocol/pubsub", "http://jabber.org/protocol/pubsub#event",
        "http://jabber.org/protocol/rsm", "http://jabber.org/protocol/ibb", "http://jabber.org/protocol/bytestreams",
        "http://jabber.org/protocol/address", "http://jabber.org/protocol/nick",
        "urn:xmpp:ping", "urn:xmpp:receipts", "urn:xmpp:delay", "urn:xmpp:time", "urn:xmpp:sid:0",
        "urn:xmpp:forward:0", "urn:xmpp:carbons:2", "urn:xmpp:mam:2", "urn:xmpp:sm:3", "urn:xmpp:csi:0",
        "urn:xmpp:chat-markers:0", "urn:xmpp:hints", "urn:xmpp:message-correct:0", "urn:xmpp:blocking",
        "urn:xmpp:http:upload:0", "urn:xmpp:avatar:data", "urn:xmpp:avatar:metadata", "urn:xmpp:bookmarks:1",
        "urn:xmpp:mucsub:0", "urn:xmpp:reply:0", "urn:xmpp:reactions:0", "urn:xmpp:fallback:0",
        "urn:xmpp:features:rosterver", "urn:xmpp:features:pre-approval", "http://jabber.org/features/iq-register",
        "eu.siacs.conversations.axolotl", "urn:xmpp:omemo:2", "jabber:x:encrypted",
    ]
}
