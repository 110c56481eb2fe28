import Testing
@testable import XMPPCore

private func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }
private func text(_ bytes: [UInt8]) -> String { String(decoding: bytes, as: UTF8.self) }

/// The published exchanges: RFC 5802 §5 (SCRAM-SHA-1) and RFC 7677 §3 (SCRAM-SHA-256).
struct SCRAMVector: Sendable, CustomStringConvertible {
    var mechanism: SASLMechanism
    var clientNonce: String
    var serverNonce: String
    var salt: String
    var clientFirst: String
    var serverFirst: String
    var clientFinal: String
    var serverFinal: String
    var description: String { mechanism.rawValue }

    static let all = [
        SCRAMVector(
            mechanism: .scramSHA1, clientNonce: "fyko+d2lbbFgONRv9qkxdawL", serverNonce: "3rfcNHYJY1ZVvWVs7j",
            salt: "QSXCR+Q6sek8bf92",
            clientFirst: "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
            serverFirst: "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
            clientFinal: "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
            serverFinal: "v=rmF9pqV8S7suAoZWja4dJRkFsKQ="),
        SCRAMVector(
            mechanism: .scramSHA256, clientNonce: "rOprNGfwEbeRWgbNEkqO", serverNonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
            salt: "W22ZaJ0SNY7soEsUEjb6gQ==",
            clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
            serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
            clientFinal: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
            serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="),
    ]
}

@Suite struct SCRAMTests {
    @Test(arguments: SCRAMVector.all)
    func clientProducesTheRFCExchange(_ vector: SCRAMVector) throws {
        var client = SCRAMClient(mechanism: vector.mechanism, username: "user", password: "pencil", nonce: vector.clientNonce)
        #expect(text(client.clientFirstMessage()) == vector.clientFirst)
        #expect(text(try client.receiveServerFirst(bytes(vector.serverFirst))) == vector.clientFinal)
        try client.receiveServerFinal(bytes(vector.serverFinal))
        #expect(throws: SASLError.self) { try client.receiveServerFinal(bytes("v=AAAAAAAAAAAAAAAAAAAAAAAAAAA=")) }
    }

    @Test(arguments: SCRAMVector.all)
    func serverVerifiesTheRFCExchange(_ vector: SCRAMVector) throws {
        let hash = try #require(vector.mechanism.scramHash)
        let stored = SCRAMCredentials.derive(password: "pencil", hash: hash, iterations: 4096, salt: try #require(Base64.decode(vector.salt)))
        var server = SCRAMServer(mechanism: vector.mechanism, nonce: vector.serverNonce)
        let first = try server.receiveClientFirst(bytes(vector.clientFirst))
        #expect(first.username == "user")
        #expect(text(server.serverFirstMessage(credentials: stored)) == vector.serverFirst)
        #expect(text(try server.receiveClientFinal(bytes(vector.clientFinal))) == vector.serverFinal)
    }

    @Test(arguments: SCRAMHash.allCases)
    func clientAndServerAgreeAndRejectAWrongPassword(_ hash: SCRAMHash) throws {
        let stored = SCRAMCredentials.derive(password: "correct horse", hash: hash)
        #expect(stored.storedKey.count == hash.outputByteCount)
        #expect(try login(hash.mechanism, password: "correct horse", stored: stored))
        #expect(throws: SASLError(.notAuthorized)) { try login(hash.mechanism, password: "wrong", stored: stored) }
    }

    @Test func keyCacheServesRepeatedLoginsAndKeepsPasswordsApart() throws {
        let cache = SCRAMKeyCache()
        let stored = SCRAMCredentials.derive(password: "pw", hash: .sha256)
        func attempt(_ password: String) throws {
            var client = SCRAMClient(mechanism: .scramSHA256, username: "u", password: password, keyCache: cache)
            var server = SCRAMServer(mechanism: .scramSHA256)
            _ = try server.receiveClientFirst(client.clientFirstMessage())
            let final = try client.receiveServerFirst(server.serverFirstMessage(credentials: stored))
            try client.receiveServerFinal(try server.receiveClientFinal(final))
        }
        try attempt("pw")
        try attempt("pw")
        #expect(cache.count == 1)
        // A different password is a different entry, and still wrong.
        #expect(throws: SASLError.self) { try attempt("other") }
        #expect(cache.count == 2)
    }

    @Test func unknownAccountLooksLikeAWrongPassword() throws {
        var client = SCRAMClient(mechanism: .scramSHA256, username: "ghost", password: "x")
        var server = SCRAMServer(mechanism: .scramSHA256)
        _ = try server.receiveClientFirst(client.clientFirstMessage())
        let challenge = server.serverFirstMessage(credentials: nil)
        let final = try client.receiveServerFirst(challenge)
        #expect(throws: SASLError(.notAuthorized)) { try server.receiveClientFinal(final) }
    }

    @Test(arguments: ChannelBinding.BindingType.allCases)
    func plusMechanismsBindTheChannel(_ type: ChannelBinding.BindingType) throws {
        let binding = ChannelBinding(type: type, data: Array(0..<32))
        let stored = SCRAMCredentials.derive(password: "pw", hash: .sha256)
        #expect(try login(.scramSHA256Plus, password: "pw", stored: stored, clientBinding: binding, serverBinding: binding))
        // A man in the middle terminates TLS twice: the two sides see different binding data.
        let other = ChannelBinding(type: type, data: Array(repeating: 7, count: 32))
        #expect(throws: SASLError(.notAuthorized, text: "channel binding mismatch")) {
            try login(.scramSHA256Plus, password: "pw", stored: stored, clientBinding: binding, serverBinding: other)
        }
    }

    @Test func downgradeFromPlusIsDetected() throws {
        let binding = ChannelBinding(type: .tlsExporter, data: Array(0..<32))
        // The client could bind but saw no -PLUS offer ("y"); the server did offer one, so it was stripped.
        var client = SCRAMClient(mechanism: .scramSHA256, username: "u", password: "p", channelBinding: binding, serverOffersPlus: false)
        let first = client.clientFirstMessage()
        #expect(text(first).hasPrefix("y,,"))
        var server = SCRAMServer(mechanism: .scramSHA256, channelBinding: binding, plusOffered: true)
        #expect(throws: SASLError.self) { try server.receiveClientFirst(first) }
        // Without an offer, "y" is accepted.
        var plainServer = SCRAMServer(mechanism: .scramSHA256, channelBinding: binding, plusOffered: false)
        #expect(try plainServer.receiveClientFirst(first).username == "u")
    }

    @Test func plusMechanismWithoutBindingIsRefused() {
        var server = SCRAMServer(mechanism: .scramSHA256Plus, channelBinding: ChannelBinding(type: .tlsExporter, data: [1]), plusOffered: true)
        #expect(throws: SASLError.self) { try server.receiveClientFirst(bytes("n,,n=u,r=abc")) }
        #expect(throws: SASLError.self) { try server.receiveClientFirst(bytes("p=tls-unique,,n=u,r=abc")) }
    }

    @Test(arguments: ["", "n,,", "x,,n=u,r=a", "n,,r=a,n=u", "n,,n=u", "n,,n=a=ZZb,r=abc", "n,,m=ext,n=u,r=a", "n,b,n=u,r=a"])
    func malformedClientFirstIsRejected(_ message: String) {
        var server = SCRAMServer(mechanism: .scramSHA256)
        #expect(throws: SASLError.self, "\(message)") { try server.receiveClientFirst(bytes(message)) }
    }

    @Test func usernamesAreEscapedAndDecoded() throws {
        var client = SCRAMClient(mechanism: .scramSHA1, username: "a,b=c", password: "p", authorizationIdentity: "x=y", nonce: "n")
        let first = text(client.clientFirstMessage())
        #expect(first == "n,a=x=3Dy,n=a=2Cb=3Dc,r=n")
        var server = SCRAMServer(mechanism: .scramSHA1)
        let parsed = try server.receiveClientFirst(bytes(first))
        #expect(parsed.username == "a,b=c")
        #expect(parsed.authorizationIdentity == "x=y")
    }

    @Test func clientRefusesAServerThatIgnoresItsNonceOrIterationBounds() throws {
        var client = SCRAMClient(mechanism: .scramSHA1, username: "user", password: "pencil", nonce: "abc")
        _ = client.clientFirstMessage()
        #expect(throws: SASLError.self) { try client.receiveServerFirst(bytes("r=xyz123,s=QSXCR+Q6sek8bf92,i=4096")) }
        #expect(throws: SASLError.self) { try client.receiveServerFirst(bytes("r=abc123,s=QSXCR+Q6sek8bf92,i=1")) }
        #expect(throws: SASLError.self) { try client.receiveServerFirst(bytes("r=abc123,s=***,i=4096")) }
    }

    /// Runs a whole exchange; returns true when both sides accept it.
    private func login(_ mechanism: SASLMechanism, password: String, stored: SCRAMCredentials,
                       clientBinding: ChannelBinding? = nil, serverBinding: ChannelBinding? = nil) throws -> Bool {
        var client = SCRAMClient(mechanism: mechanism, username: "juliet", password: password,
                                 channelBinding: clientBinding, serverOffersPlus: serverBinding != nil)
        var server = SCRAMServer(mechanism: mechanism, channelBinding: serverBinding, plusOffered: serverBinding != nil)
        let first = try server.receiveClientFirst(client.clientFirstMessage())
        #expect(first.username == "juliet")
        let final = try client.receiveServerFirst(server.serverFirstMessage(credentials: stored))
        try client.receiveServerFinal(try server.receiveClientFinal(final))
        return true
    }
}

@Suite struct PlainAndBase64Tests {
    @Test func plainRoundTrip() throws {
        let message = PlainMechanism.message(username: "juliet", password: "p\u{E4}ss", authorizationIdentity: nil)
        #expect(message == [0] + bytes("juliet") + [0] + bytes("p\u{E4}ss"))
        let parsed = try PlainMechanism.parse(message)
        #expect(parsed.username == "juliet")
        #expect(parsed.password == "p\u{E4}ss")
        #expect(parsed.authorizationIdentity == nil)
        #expect(throws: SASLError.self) { try PlainMechanism.parse(bytes("juliet")) }
        #expect(throws: SASLError.self) { try PlainMechanism.parse([0] + bytes("juliet") + [0]) }
        #expect(throws: SASLError.self) { try PlainMechanism.parse([0, 0xFF, 0, 65]) }
    }

    @Test func base64RFC4648Vectors() {
        let vectors = ["": "", "f": "Zg==", "fo": "Zm8=", "foo": "Zm9v", "foob": "Zm9vYg==", "fooba": "Zm9vYmE=", "foobar": "Zm9vYmFy"]
        for (plain, encoded) in vectors {
            #expect(Base64.encode(bytes(plain)) == encoded)
            #expect(Base64.decode(encoded) == bytes(plain))
        }
        for bad in ["Zg=", "Zg==Zg==", "Z===", "Zh==", "Zm9v\n", "Zm 9v", "=Zm9"] {
            #expect(Base64.decode(bad) == nil, "\(bad)")
        }
    }
}
