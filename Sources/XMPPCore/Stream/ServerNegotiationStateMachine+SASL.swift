// SASL on the receiving side (RFC 6120 §6): choosing the mechanism, the SCRAM and PLAIN exchanges, identity
// checks, success and the retry limit.
extension ServerNegotiationStateMachine {
    mutating func beginSASL(_ element: Element) -> Action {
        guard username == nil else { return fail(StreamError(.notAuthorized, text: "already authenticated")) }
        guard isSecured || configuration.tls != .required else { return .send(SASLError(.encryptionRequired).element) }
        guard let name = element.attribute("mechanism"), let mechanism = SASLMechanism(rawValue: name),
              offeredMechanisms.contains(mechanism) else {
            if element.attribute("mechanism") == SASLMechanism.plain.rawValue && !isSecured {
                return .send(SASLError(.encryptionRequired).element)
            }
            return .send(SASLError(.invalidMechanism).element)
        }
        let text = element.text
        guard let initialResponse = text == "=" || text.isEmpty ? [] : Base64.decode(text) else {
            return .send(SASLError(.incorrectEncoding).element)
        }
        if let hash = mechanism.scramHash {
            var scram = SCRAMServer(mechanism: mechanism, channelBinding: channelBinding, plusOffered: channelBinding != nil)
            if text.isEmpty {
                // No initial response: ask for it with an empty challenge (RFC 6120 §6.4.2).
                state = .authenticating(.scram(scram, username: nil))
                return .send(Element("challenge", namespace: XMLNamespace.sasl))
            }
            return scramClientFirst(&scram, initialResponse, hash: hash)
        }
        do {
            let credentials = try PlainMechanism.parse(initialResponse)
            return plainReceived(credentials)
        } catch {
            return saslFailed(error)
        }
    }

    mutating func scramClientFirst(_ scram: inout SCRAMServer, _ message: [UInt8], hash: SCRAMHash) -> Action {
        do {
            let first = try scram.receiveClientFirst(message)
            let user = try checkIdentities(username: first.username, authorizationIdentity: first.authorizationIdentity)
            state = .awaitingCredentials(.scram(scram, username: user))
            return .lookUpCredentials(username: user, hash: hash)
        } catch {
            return saslFailed(error)
        }
    }

    mutating func plainReceived(_ offered: PlainMechanism.Credentials) -> Action {
        do {
            let user = try checkIdentities(username: offered.username, authorizationIdentity: offered.authorizationIdentity)
            var normalized = offered
            normalized.username = user
            state = .awaitingCredentials(.plain(normalized))
            return .lookUpCredentials(username: user, hash: .sha256)
        } catch {
            return saslFailed(error)
        }
    }

    /// Normalizes the username and accepts an authorization identity only when it names the same account.
    func checkIdentities(username: String, authorizationIdentity: String?) throws(SASLError) -> String {
        guard let user = try? JID(localpart: username, domainpart: domain).localpart else {
            throw SASLError(.notAuthorized)
        }
        if let authorizationIdentity {
            guard let requested = JID(validating: authorizationIdentity), requested == (try? JID(localpart: user, domainpart: domain)) else {
                throw SASLError(.invalidAuthzid)
            }
        }
        return user
    }

    mutating func continueSASL(_ exchange: SASLExchange, with element: Element) -> Action {
        guard element.namespace == XMLNamespace.sasl else {
            return fail(StreamError(.notAuthorized, text: "unexpected \(element.name) during SASL"))
        }
        if element.name == "abort" { return saslFailed(SASLError(.aborted)) }
        guard element.name == "response", case .scram(var scram, let user) = exchange else {
            return fail(StreamError(.notAuthorized, text: "unexpected \(element.name) during SASL"))
        }
        let text = element.text
        guard let response = text.isEmpty || text == "=" ? [] : Base64.decode(text) else {
            return saslFailed(SASLError(.incorrectEncoding))
        }
        guard let user else {
            return scramClientFirst(&scram, response, hash: scram.mechanism.scramHash ?? .sha256)
        }
        do {
            let serverFinal = try scram.receiveClientFinal(response)
            return succeed(username: user, additionalData: serverFinal)
        } catch {
            return saslFailed(error)
        }
    }

    mutating func succeed(username: String, additionalData: [UInt8]?) -> Action {
        self.username = username
        state = .awaitingHeader
        let success = Element("success", namespace: XMLNamespace.sasl, text: additionalData.map { Base64.encode($0) } ?? "")
        return .authenticated(username: username, success: success)
    }

    mutating func saslFailed(_ error: SASLError) -> Action {
        failedAttempts += 1
        if failedAttempts >= configuration.maximumAuthenticationAttempts {
            state = .closed
            return .close(StreamError(.notAuthorized, text: "too many failed authentication attempts"), header: nil)
        }
        state = .negotiating
        return .send(error.element)
    }
}
