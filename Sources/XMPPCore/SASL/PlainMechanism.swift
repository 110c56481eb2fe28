/// SASL PLAIN (RFC 4616): `authzid NUL authcid NUL passwd`. Only ever used over TLS.
public enum PlainMechanism {
    /// The credentials a PLAIN message carries.
    public struct Credentials: Sendable, Hashable {
        /// The authorization identity, if the client asked to act as someone else.
        public var authorizationIdentity: String?
        /// The authentication identity (the account's localpart).
        public var username: String
        /// The password, as sent.
        public var password: String
    }

    /// The client's message.
    public static func message(username: String, password: String, authorizationIdentity: String? = nil) -> [UInt8] {
        Array((authorizationIdentity ?? "").utf8) + [0] + Array(username.utf8) + [0] + Array(password.utf8)
    }

    /// Parses a client's message.
    /// - Throws: ``SASLError`` `malformed-request` unless it has exactly three NUL-separated UTF-8 parts
    ///   with a non-empty username and password.
    public static func parse(_ message: [UInt8]) throws(SASLError) -> Credentials {
        let parts = message.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, !parts[1].isEmpty, !parts[2].isEmpty, !parts[2].contains(0),
              let authzid = String(validUTF8: parts[0]),
              let username = String(validUTF8: parts[1]),
              let password = String(validUTF8: parts[2]) else {
            throw SASLError(.malformedRequest, text: "malformed PLAIN message")
        }
        return Credentials(authorizationIdentity: authzid.isEmpty ? nil : authzid, username: username, password: password)
    }
}
