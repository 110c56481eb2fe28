import XMPPCore

extension Room {
    /// `urn:xmpp:occupant-id:0` (XEP-0421).
    static let occupantIDNamespace = "urn:xmpp:occupant-id:0"

    /// The occupant id of `account` in this room (XEP-0421): the same for the account whatever its nickname or
    /// session, different in every room, and telling nothing about the account (a keyed hash with the server's secret).
    func occupantID(of account: JID) -> String {
        let digest = SCRAMHash.sha256.hmac(key: limits.occupantIDSecret, Array("occupant-id\u{0}\(jid)\u{0}\(account.bare)".utf8))
        return Base64.encode(digest.prefix(18))
    }

    /// Replaces any occupant id in `stanza` with the room's own for `account`: one a client put in itself must never
    /// reach the others (XEP-0421 §4), or anyone could pose as another occupant.
    func stampOccupantID(_ stanza: inout Element, account: JID) {
        stanza.children.removeAll { node in
            if case .element(let child) = node { child.name == "occupant-id" && child.namespace == Self.occupantIDNamespace } else { false }
        }
        stanza.append(Element("occupant-id", namespace: Self.occupantIDNamespace, attributes: ["id": occupantID(of: account)]))
    }
}
