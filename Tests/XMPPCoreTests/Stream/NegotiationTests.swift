import Testing
@testable import XMPPCore

@Suite struct NegotiationTests {
    let serverConfig = ServerNegotiationStateMachine.Configuration(domains: ["example.com"])

    func clientConfig(_ jid: String = "juliet@example.com/balcony", password: String = "balcony") -> ClientNegotiationStateMachine.Configuration {
        ClientNegotiationStateMachine.Configuration(jid: try! JID(jid), password: password)
    }

    @Test func fullNegotiationUsesTLSAndTheStrongestPlusMechanism() throws {
        var harness = NegotiationHarness(server: serverConfig, client: clientConfig())
        harness.run()
        let jid = try JID("juliet@example.com/balcony")
        #expect(harness.clientResult == .established(jid, harness.clientFeatures), "\(harness.transcript.joined(separator: "\n"))")
        #expect(harness.serverEstablished == jid)
        #expect(harness.client.chosenMechanism == .scramSHA512Plus)
        #expect(harness.client.isEncrypted && harness.server.isEncrypted)
    }

    @Test(arguments: [SASLMechanism.scramSHA1, .scramSHA256, .scramSHA512, .plain, .scramSHA256Plus])
    func eachMechanismNegotiates(_ mechanism: SASLMechanism) throws {
        var client = clientConfig("juliet@example.com")
        client.mechanisms = [mechanism]
        var harness = NegotiationHarness(server: serverConfig, client: client)
        harness.run()
        guard case .established(let jid, _) = harness.clientResult else {
            Issue.record("not established: \(String(describing: harness.clientResult))\n\(harness.transcript.joined(separator: "\n"))")
            return
        }
        #expect(jid.bare == (try JID("juliet@example.com")))
        #expect(jid.resourcepart == "generated", "the server chose the resource")
        #expect(harness.client.chosenMechanism == mechanism)
    }

    @Test func wrongPasswordFailsWithNotAuthorized() {
        var harness = NegotiationHarness(server: serverConfig, client: clientConfig(password: "wrong"))
        harness.run()
        #expect(harness.clientResult == .failed(.authenticationFailed(SASLError(.notAuthorized))))
        #expect(harness.serverEstablished == nil)
    }

    @Test func unknownUserFailsLikeAWrongPassword() {
        var harness = NegotiationHarness(server: serverConfig, client: clientConfig("romeo@example.com"))
        harness.run()
        #expect(harness.clientResult == .failed(.authenticationFailed(SASLError(.notAuthorized))))
    }

    /// XEP-0077 §3: without the `iq-register` feature the client does not ask, and says why.
    @Test func registeringWhereTheServerOffersNoRegistrationFailsWithNotAllowed() {
        var client = clientConfig("romeo@example.com")
        client.registersAccount = true
        var harness = NegotiationHarness(server: serverConfig, client: client)
        harness.run()
        #expect(harness.clientResult == .failed(.registrationFailed(StanzaError(.notAllowed, text: "registration is disabled on this server"))),
                "\(harness.transcript.joined(separator: "\n"))")
        #expect(!harness.transcript.contains { $0.contains("jabber:iq:register") }, "nothing was asked")
    }

    @Test func clientRequiringTLSRefusesAServerWithout() {
        var server = serverConfig
        server.tls = .unavailable
        var harness = NegotiationHarness(server: server, client: clientConfig())
        harness.run()
        #expect(harness.clientResult == .failed(.tlsRequired))
    }

    @Test func plainIsNeverOfferedOrUsedWithoutTLS() {
        var server = serverConfig
        server.tls = .unavailable
        var client = clientConfig()
        client.tls = .disabled
        client.mechanisms = [.plain]
        var harness = NegotiationHarness(server: server, client: client)
        harness.run()
        #expect(harness.clientResult == .failed(.noCommonMechanism(["SCRAM-SHA-512", "SCRAM-SHA-256", "SCRAM-SHA-1"])))
    }

    @Test func unservedDomainGetsHostUnknownAfterOurHeader() {
        var harness = NegotiationHarness(server: serverConfig, client: clientConfig("juliet@example.net"))
        harness.run()
        #expect(harness.serverClose?.error?.condition == .hostUnknown)
        #expect(harness.serverClose?.sentHeader == true)
        #expect(harness.clientResult == .failed(.streamError(StreamError(.hostUnknown, text: "this server does not serve example.net"))))
    }

    @Test(arguments: [
        ("<stream:stream to='example.com' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>", StreamError.Condition.unsupportedVersion),
        ("<stream:stream to='example.com' version='1.0' xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams'>", .invalidNamespace),
        ("<stream to='example.com' version='1.0' xmlns='jabber:client'>", .invalidNamespace),
        ("<stream:stream version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>", .hostUnknown),
        ("<stream:stream to='example.com' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><message/>", .policyViolation),
        ("<stream:stream to='example.com' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'><!-- x -->", .restrictedXML),
    ])
    func badStreamsCloseWithTheRightCondition(_ bytes: String, _ condition: StreamError.Condition) {
        var harness = NegotiationHarness(server: serverConfig, client: clientConfig())
        harness.clientSends(bytes)
        #expect(harness.serverClose?.error?.condition == condition, "\(harness.transcript)")
    }

    @Test func authBeforeTLSIsRefusedWithEncryptionRequired() {
        var harness = NegotiationHarness(server: serverConfig, client: clientConfig())
        harness.clientSends("<stream:stream to='example.com' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
        harness.clientSends("<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGp1bGlldABiYWxjb255</auth>")
        #expect(harness.transcript.last?.contains("encryption-required") == true)
    }

    @Test func tooManyFailedAttemptsCloseTheStream() {
        var server = serverConfig
        server.tls = .optional
        var harness = NegotiationHarness(server: server, client: clientConfig())
        harness.clientSends("<stream:stream to='example.com' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
        let badSCRAM = "<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='SCRAM-SHA-1'>bixiLG49anVsaWV0</auth>"  // "n,b,n=juliet"
        harness.clientSends(badSCRAM)
        harness.clientSends(badSCRAM)
        #expect(harness.serverClose == nil)
        harness.clientSends(badSCRAM)
        #expect(harness.serverClose?.error?.condition == .notAuthorized)
    }

    @Test func stanzasBeforeBindAreRefused() {
        var server = serverConfig
        server.tls = .optional
        var harness = NegotiationHarness(server: server, client: clientConfig())
        harness.clientSends("<stream:stream to='example.com' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
        harness.clientSends("<message to='romeo@example.com'><body>hi</body></message>")
        #expect(harness.serverClose?.error?.condition == .notAuthorized)
    }

    @Test func establishedStreamPassesStanzasAndAnswersLegacySession() {
        var harness = NegotiationHarness(server: serverConfig, client: clientConfig())
        harness.run()
        harness.clientSends("<iq type='set' id='s1'><session xmlns='urn:ietf:params:xml:ns:xmpp-session'/></iq>")
        #expect(harness.transcript.last?.contains("type='result'") == true)
        harness.clientSends("<message to='romeo@example.com' type='chat'><body>hi</body></message><r xmlns='urn:xmpp:sm:3'/>")
        #expect(harness.serverStanzas.map(\.name) == ["message", "r"])
    }

    @Test func scramWithoutInitialResponseGetsAnEmptyChallengeFirst() throws {
        var server = ServerNegotiationStateMachine(configuration: serverConfig, isSecured: true)
        _ = server.receivedHeader(Element("stream", namespace: XMLNamespace.streams, attributes: ["to": "example.com", "version": "1.0"]),
                                  contentNamespace: XMLNamespace.client)
        let empty = server.received(Element("auth", namespace: XMLNamespace.sasl, attributes: ["mechanism": "SCRAM-SHA-1"]))
        #expect(empty == .send(Element("challenge", namespace: XMLNamespace.sasl)))
        var client = SCRAMClient(mechanism: .scramSHA1, username: "Juliet", password: "balcony")
        let response = Element("response", namespace: XMLNamespace.sasl, text: Base64.encode(client.clientFirstMessage()))
        #expect(server.received(response) == .lookUpCredentials(username: "juliet", hash: .sha1), "the username is normalized")
        let challenge = server.credentialsFound(SCRAMCredentials.derive(password: "balcony", hash: .sha1))
        guard case .send(let challengeElement) = challenge, let serverFirst = Base64.decode(challengeElement.text) else {
            Issue.record("no challenge: \(challenge)")
            return
        }
        let final = try client.receiveServerFirst(serverFirst)
        let outcome = server.received(Element("response", namespace: XMLNamespace.sasl, text: Base64.encode(final)))
        guard case .authenticated("juliet", let success) = outcome, let signature = Base64.decode(success.text) else {
            Issue.record("not authenticated: \(outcome)")
            return
        }
        try client.receiveServerFinal(signature)
    }

    @Test func refusedBindingLetsTheClientTryAgain() throws {
        var server = ServerNegotiationStateMachine(configuration: serverConfig, isSecured: true)
        let header = Element("stream", namespace: XMLNamespace.streams, attributes: ["to": "example.com", "version": "1.0"])
        _ = server.receivedHeader(header, contentNamespace: XMLNamespace.client)
        _ = server.received(Element("auth", namespace: XMLNamespace.sasl, attributes: ["mechanism": "PLAIN"],
                                    text: Base64.encode(PlainMechanism.message(username: "juliet", password: "pw"))))
        // PLAIN's key derivation is handed out (to run off the event loop), then its verdict comes back.
        let stored = SCRAMCredentials.derive(password: "pw", hash: .sha256)
        #expect(server.credentialsFound(stored) == .checkPassword("pw", against: stored))
        #expect(ServerNegotiationStateMachine.passwordMatches("pw", stored) && !ServerNegotiationStateMachine.passwordMatches("px", stored))
        guard case .authenticated(let username, _) = server.plainPasswordChecked(matches: true) else {
            Issue.record("PLAIN did not authenticate")
            return
        }
        #expect(username == "juliet")
        _ = server.receivedHeader(header, contentNamespace: XMLNamespace.client)
        let bind = IQ(type: .set, id: "b1", payload: Element("bind", namespace: XMLNamespace.bind,
                                                             children: [.element(Element("resource", namespace: XMLNamespace.bind, text: "phone"))]))
        #expect(server.received(bind.element) == .bindResource(username: "juliet", requested: "phone"))
        guard case .send(let refusal) = server.resourceBindingFailed(StanzaError(.resourceConstraint)) else {
            Issue.record("no refusal")
            return
        }
        #expect(IQ(element: refusal)?.error?.condition == .resourceConstraint)
        #expect(IQ(element: refusal)?.id == "b1")
        #expect(server.received(bind.element) == .bindResource(username: "juliet", requested: "phone"))
        let jid = try JID("juliet@example.com/phone")
        guard case .established(jid, _) = server.resourceBound(jid) else {
            Issue.record("not established")
            return
        }
        #expect(server.boundJID == jid)
    }

    @Test func starttlsTwiceIsRefusedWithFailure() {
        var harness = NegotiationHarness(server: serverConfig, client: clientConfig())
        harness.run()
        var server = ServerNegotiationStateMachine(configuration: serverConfig, isSecured: true)
        _ = server.receivedHeader(Element("stream", namespace: XMLNamespace.streams, attributes: ["to": "example.com", "version": "1.0"]),
                                  contentNamespace: XMLNamespace.client)
        #expect(server.received(Element("starttls", namespace: XMLNamespace.tls)) == .sendAndClose(Element("failure", namespace: XMLNamespace.tls)))
    }

    @Test func directTLSOffersPlusAndPlainWithoutStartTLS() {
        var server = ServerNegotiationStateMachine(configuration: serverConfig, isSecured: true,
                                                   channelBinding: ChannelBinding(type: .tlsServerEndPoint, data: [1, 2, 3]))
        let action = server.receivedHeader(Element("stream", namespace: XMLNamespace.streams, attributes: ["to": "Example.COM", "version": "1.0"]),
                                           contentNamespace: XMLNamespace.client)
        guard case .openStream(let header, let features) = action else {
            Issue.record("no stream opened: \(action)")
            return
        }
        #expect(header.from == "example.com")
        #expect(!features.startTLS.offered)
        #expect(features.saslMechanisms == ["SCRAM-SHA-512-PLUS", "SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS",
                                            "SCRAM-SHA-512", "SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"])
    }
}

extension NegotiationHarness {
    /// The features the client saw after authentication, as the server sends them.
    var clientFeatures: StreamFeatures {
        StreamFeatures([StreamFeatures.bindFeature, StreamFeatures.optionalSessionFeature])
    }
}
