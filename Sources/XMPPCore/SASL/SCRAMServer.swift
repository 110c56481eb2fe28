/// The server side of SCRAM (RFC 5802, RFC 7677), with channel binding for the -PLUS variants.
/// Sans-I/O: the session looks up the account's ``SCRAMCredentials`` between the first two steps.
///
/// ```swift
/// var scram = SCRAMServer(mechanism: .scramSHA256, channelBinding: binding, plusOffered: true)
/// let user = try scram.receiveClientFirst(authBytes)               // then look up the credentials
/// let challenge = scram.serverFirstMessage(credentials: stored)    // nil credentials: unknown user
/// let success = try scram.receiveClientFinal(responseBytes)        // throws not-authorized on a bad proof
/// ```
public struct SCRAMServer: Sendable {
    /// What the client asked for in its first message.
    public struct ClientFirst: Sendable, Hashable {
        /// The authentication identity (the account's localpart), decoded from `n=`.
        public var username: String
        /// The authorization identity from `a=`, if any.
        public var authorizationIdentity: String?
    }

    /// The mechanism in use.
    public let mechanism: SASLMechanism
    private let hash: SCRAMHash
    private let channelBinding: ChannelBinding?
    private let plusOffered: Bool
    private let serverNonceSuffix: String
    private var gs2Header = ""
    private var clientFirstBare = ""
    private var serverFirst = ""
    private var nonce = ""
    private var credentials: SCRAMCredentials?

    /// Creates a server exchange.
    /// - Parameters:
    ///   - mechanism: The SCRAM mechanism the client chose.
    ///   - channelBinding: This connection's channel-binding data, when TLS provides it.
    ///   - plusOffered: Whether -PLUS mechanisms were advertised to this client. A client that says it could
    ///     bind but believes the server cannot (`y`) is then refused: someone stripped them (RFC 5802 §6).
    ///   - nonce: A fixed server nonce part, for test vectors only.
    public init(mechanism: SASLMechanism, channelBinding: ChannelBinding? = nil, plusOffered: Bool = false, nonce: String? = nil) {
        self.mechanism = mechanism
        self.hash = mechanism.scramHash ?? .sha256
        self.channelBinding = channelBinding
        self.plusOffered = plusOffered
        self.serverNonceSuffix = nonce ?? SCRAMRandom.nonce()
    }

    /// Parses the client-first-message and checks its channel-binding flag against the mechanism.
    public mutating func receiveClientFirst(_ message: [UInt8]) throws(SASLError) -> ClientFirst {
        let text = try SCRAMMessage.text(message)
        let parts = text.split(separator: ",", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3 else { throw SASLError(.malformedRequest, text: "malformed client-first-message") }
        let flag = parts[0]
        switch flag.first {
        case "p":
            guard mechanism.usesChannelBinding, let channelBinding, flag == "p=\(channelBinding.type.rawValue)" else {
                throw SASLError(.notAuthorized, text: "unsupported channel binding")
            }
        case "y":
            guard flag == "y", !mechanism.usesChannelBinding else { throw SASLError(.malformedRequest, text: "bad gs2 flag") }
            if plusOffered { throw SASLError(.notAuthorized, text: "channel binding downgrade detected") }
        case "n":
            guard flag == "n", !mechanism.usesChannelBinding else {
                throw SASLError(.notAuthorized, text: "a -PLUS mechanism requires channel binding")
            }
        default:
            throw SASLError(.malformedRequest, text: "bad gs2 flag")
        }
        var authorizationIdentity: String?
        if !parts[1].isEmpty {
            guard parts[1].hasPrefix("a=") else { throw SASLError(.malformedRequest, text: "bad authzid") }
            authorizationIdentity = try SCRAMMessage.decodeName(parts[1].dropFirst(2))
        }
        gs2Header = "\(parts[0]),\(parts[1]),"
        clientFirstBare = String(parts[2])
        let attributes = try SCRAMMessage.attributes(parts[2])
        if attributes.first?.0 == "m" { throw SASLError(.malformedRequest, text: "unsupported mandatory SCRAM extension") }
        let username = try SCRAMMessage.decodeName(try SCRAMMessage.required(attributes, "n", at: 0))
        let clientNonce = try SCRAMMessage.required(attributes, "r", at: 1)
        guard !username.isEmpty, !clientNonce.isEmpty, clientNonce.allSatisfy({ $0.isASCII && $0 != "," && $0.asciiValue! > 0x20 }) else {
            throw SASLError(.malformedRequest, text: "bad username or nonce")
        }
        nonce = String(clientNonce) + serverNonceSuffix
        return ClientFirst(username: username, authorizationIdentity: authorizationIdentity)
    }

    /// The server-first-message for the account's credentials. Pass `nil` for an unknown account: the
    /// exchange then continues with a random salt and fails at the end, so accounts cannot be probed.
    public mutating func serverFirstMessage(credentials: SCRAMCredentials?) -> [UInt8] {
        self.credentials = credentials
        let salt = credentials?.salt ?? SCRAMRandom.bytes(16)
        let iterations = credentials?.iterations ?? 4096
        serverFirst = "r=\(nonce),s=\(Base64.encode(salt)),i=\(iterations)"
        return Array(serverFirst.utf8)
    }

    /// Verifies the client-final-message: channel binding, nonce and proof. Returns the server-final-message
    /// (`v=` signature) to send in `<success/>`.
    /// - Throws: ``SASLError`` with `not-authorized` for a wrong password, unknown account or binding mismatch.
    public func receiveClientFinal(_ message: [UInt8]) throws(SASLError) -> [UInt8] {
        let text = try SCRAMMessage.text(message)
        // The proof is the last attribute: everything before ",p=" is signed as client-final-without-proof.
        guard let comma = text.lastIndex(of: ","), text[comma...].hasPrefix(",p=") else {
            throw SASLError(.malformedRequest, text: "missing proof")
        }
        let finalWithoutProof = text[..<comma]
        let attributes = try SCRAMMessage.attributes(finalWithoutProof)
        guard let binding = Base64.decode(try SCRAMMessage.required(attributes, "c", at: 0)),
              binding == Array(gs2Header.utf8) + (gs2Header.hasPrefix("p=") ? channelBinding?.data ?? [] : []) else {
            throw SASLError(.notAuthorized, text: "channel binding mismatch")
        }
        guard try SCRAMMessage.required(attributes, "r", at: 1) == nonce else {
            throw SASLError(.notAuthorized, text: "nonce mismatch")
        }
        guard let proof = Base64.decode(text[text.index(comma, offsetBy: 3)...]) else {
            throw SASLError(.incorrectEncoding, text: "bad proof encoding")
        }
        guard let credentials, credentials.hash == hash, proof.count == hash.outputByteCount else {
            throw SASLError(.notAuthorized)
        }
        let authMessage = Array("\(clientFirstBare),\(serverFirst),\(finalWithoutProof)".utf8)
        let clientSignature = hash.hmac(key: credentials.storedKey, authMessage)
        let clientKey = zip(proof, clientSignature).map { $0 ^ $1 }
        guard constantTimeEqual(hash.hash(clientKey), credentials.storedKey) else {
            throw SASLError(.notAuthorized)
        }
        let serverSignature = hash.hmac(key: credentials.serverKey, authMessage)
        return Array("v=\(Base64.encode(serverSignature))".utf8)
    }
}
