import Crypto
import Foundation
import XMPPCore

/// Server dialback (XEP-0220): the namespaces, the key (XEP-0185) and the elements both sides exchange.
enum Dialback {
    /// The namespace of `<db:result/>` and `<db:verify/>`.
    static let namespace = XMLNamespace.dialback
    /// The stream feature a receiving server offers (XEP-0220 §2.1.1).
    static let featureNamespace = "urn:xmpp:features:dialback"
    /// STARTTLS (RFC 6120 §5).
    static let tlsNamespace = "urn:ietf:params:xml:ns:xmpp-tls"

    /// The dialback key (XEP-0185): HMAC-SHA256 keyed with the hex SHA-256 of the server's secret, over the
    /// receiving domain, the originating domain and the stream id. Only this server can make it, so the receiving
    /// server can check with the originating domain's authoritative server that the key is its own.
    static func key(secret: [UInt8], receiving: String, originating: String, streamID: String) -> String {
        let hashedSecret = SHA256.hash(data: secret).map { hexDigits($0) }.joined()
        let mac = HMAC<SHA256>.authenticationCode(for: Array("\(receiving) \(originating) \(streamID)".utf8),
                                                   using: SymmetricKey(data: Array(hashedSecret.utf8)))
        return mac.map { hexDigits($0) }.joined()
    }

    /// Whether `key` is the one this server would have made for these domains and stream (in constant time).
    static func isValid(_ key: String, secret: [UInt8], receiving: String, originating: String, streamID: String) -> Bool {
        let expected = self.key(secret: secret, receiving: receiving, originating: originating, streamID: streamID)
        return constantTimeEqual(Array(key.trimmingCharacters(in: .whitespacesAndNewlines).utf8), Array(expected.utf8))
    }

    private static func hexDigits(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return String([digits[Int(byte >> 4)], digits[Int(byte & 0x0f)]])
    }

    /// `<db:result/>` or `<db:verify/>` (`name`), with the key as text for a request or a `type` for an answer.
    static func element(_ name: String, from: String, to: String, id: String? = nil, key: String? = nil, type: String? = nil) -> Element {
        var element = Element(name, namespace: namespace, attributes: ["from": from, "to": to])
        if let id { element.setAttribute("id", to: id) }
        if let type { element.setAttribute("type", to: type) }
        if let key { element.append(text: key) }
        return element
    }

    /// A dialback answer of type `error` with a stanza error condition inside (XEP-0220 §2.4).
    static func error(_ name: String, from: String, to: String, id: String? = nil, _ condition: StanzaError.Condition) -> Element {
        var answer = element(name, from: from, to: to, id: id, type: "error")
        answer.append(StanzaError(condition).element(namespace: XMLNamespace.server))
        return answer
    }
}
