/// The client side of SCRAM (RFC 5802, RFC 7677), with or without channel binding. Sans-I/O: feed it the
/// server's messages, send what it returns.
///
/// ```swift
/// var scram = SCRAMClient(mechanism: .scramSHA256, username: "juliet", password: "s3cret")
/// let first = scram.clientFirstMessage()                         // send in <auth/>
/// let final = try scram.receiveServerFirst(challengeBytes)        // send in <response/>
/// try scram.receiveServerFinal(successBytes)                      // verifies the server's signature
/// ```
public struct SCRAMClient: Sendable {
    /// The mechanism in use.
    public let mechanism: SASLMechanism
    /// The lowest iteration count accepted from a server (RFC 7677 §4 recommends at least 4,096).
    public var minimumIterations = 4096
    /// The highest iteration count accepted, so a hostile server cannot make the client spin.
    public var maximumIterations = 10_000_000

    private let hash: SCRAMHash
    private let username: String
    private let password: String
    private let gs2Header: String
    private let channelBindingData: [UInt8]
    private let clientNonce: String
    private var clientFirstBare = ""
    private var expectedServerSignature: [UInt8]?
    private let keyCache: SCRAMKeyCache?

    /// Creates a client exchange.
    /// - Parameters:
    ///   - mechanism: A SCRAM mechanism. For a -PLUS mechanism, `channelBinding` must be given.
    ///   - username: The account's localpart.
    ///   - password: The password; normalized with OpaqueString before use.
    ///   - authorizationIdentity: An identity to act as, usually `nil`.
    ///   - channelBinding: This connection's channel-binding data, when the client can bind.
    ///   - serverOffersPlus: Whether the server offered any -PLUS mechanism. When the client can bind but the
    ///     server offered none, the client says so (`y` flag) so a downgrade by an attacker is detected.
    ///   - keyCache: Where keys derived from the password are remembered across logins, if anywhere.
    ///   - nonce: A fixed client nonce, for test vectors only.
    public init(mechanism: SASLMechanism, username: String, password: String, authorizationIdentity: String? = nil,
                channelBinding: ChannelBinding? = nil, serverOffersPlus: Bool = false, keyCache: SCRAMKeyCache? = nil,
                nonce: String? = nil) {
        self.mechanism = mechanism
        self.keyCache = keyCache
        self.hash = mechanism.scramHash ?? .sha256
        self.username = username
        self.password = password
        self.clientNonce = nonce ?? SCRAMRandom.nonce()
        let authzid = authorizationIdentity.map { "a=" + SCRAMMessage.encodeName($0) } ?? ""
        if mechanism.usesChannelBinding, let channelBinding {
            gs2Header = "p=\(channelBinding.type.rawValue),\(authzid),"
            channelBindingData = channelBinding.data
        } else {
            gs2Header = (channelBinding != nil && !serverOffersPlus ? "y" : "n") + ",\(authzid),"
            channelBindingData = []
        }
    }

    /// The client-first-message, sent as the initial response of `<auth/>`.
    public mutating func clientFirstMessage() -> [UInt8] {
        let normalizedName = (try? PRECIS.usernameCaseMapped(username)) ?? username
        clientFirstBare = "n=\(SCRAMMessage.encodeName(normalizedName)),r=\(clientNonce)"
        return Array((gs2Header + clientFirstBare).utf8)
    }

    /// Takes the server-first-message and returns the client-final-message with the proof.
    /// - Throws: ``SASLError`` when the message is malformed, the nonce was not extended from ours, or the
    ///   iteration count is out of bounds.
    public mutating func receiveServerFirst(_ message: [UInt8]) throws(SASLError) -> [UInt8] {
        let serverFirst = try SCRAMMessage.text(message)
        let attributes = try SCRAMMessage.attributes(serverFirst[...])
        if attributes.first?.0 == "m" { throw SASLError(.malformedRequest, text: "unsupported mandatory SCRAM extension") }
        let nonce = try SCRAMMessage.required(attributes, "r", at: 0)
        guard nonce.hasPrefix(clientNonce), nonce.count > clientNonce.count else {
            throw SASLError(.notAuthorized, text: "server nonce does not extend the client nonce")
        }
        guard let salt = Base64.decode(try SCRAMMessage.required(attributes, "s", at: 1)), !salt.isEmpty else {
            throw SASLError(.incorrectEncoding, text: "bad salt")
        }
        guard let iterations = Int(try SCRAMMessage.required(attributes, "i", at: 2)),
              (minimumIterations...maximumIterations).contains(iterations) else {
            throw SASLError(.malformedRequest, text: "iteration count out of bounds")
        }
        let channelBinding = Base64.encode(Array(gs2Header.utf8) + channelBindingData)
        let finalWithoutProof = "c=\(channelBinding),r=\(nonce)"
        let authMessage = Array("\(clientFirstBare),\(serverFirst),\(finalWithoutProof)".utf8)

        let keys = keyCache?.keys(hash, password: password, salt: salt, iterations: iterations)
            ?? hash.keys(password: password, salt: salt, iterations: iterations)
        let clientSignature = hash.hmac(key: keys.storedKey, authMessage)
        let proof = zip(keys.clientKey, clientSignature).map { $0 ^ $1 }
        expectedServerSignature = hash.hmac(key: keys.serverKey, authMessage)
        return Array("\(finalWithoutProof),p=\(Base64.encode(proof))".utf8)
    }

    /// Verifies the server-final-message (`v=` signature), the proof that the server knew our keys.
    /// - Throws: ``SASLError`` when the server reports an error (`e=`) or its signature is wrong.
    public func receiveServerFinal(_ message: [UInt8]) throws(SASLError) {
        let serverFinal = try SCRAMMessage.text(message)
        let attributes = try SCRAMMessage.attributes(serverFinal[...])
        if let error = attributes.first, error.0 == "e" {
            throw SASLError(.notAuthorized, text: "server reported \(error.1)")
        }
        guard let expectedServerSignature,
              let signature = Base64.decode(try SCRAMMessage.required(attributes, "v", at: 0)),
              constantTimeEqual(signature, expectedServerSignature) else {
            throw SASLError(.notAuthorized, text: "server signature mismatch")
        }
    }
}
