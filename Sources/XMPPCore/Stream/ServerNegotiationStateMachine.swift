/// The receiving side of a client-to-server stream negotiation (RFC 6120 §4–§7): header checks, STARTTLS,
/// SASL, stream restarts and resource binding. Sans-I/O: every input is a method that returns an ``Action``
/// for the session to carry out, and slow work (credential lookup, choosing a resource) is requested through
/// an action and answered with another input.
///
/// ```
/// header ─▶ features ─▶ <starttls/> ─▶ proceed, TLS ─▶ header ─▶ features ─▶ <auth/> ─▶ lookUpCredentials
///   ─▶ credentialsFound ─▶ <challenge/> ─▶ <response/> ─▶ <success/> ─▶ header ─▶ features ─▶ bind iq
///   ─▶ bindResource ─▶ resourceBound ─▶ established ─▶ stanzas
/// ```
public struct ServerNegotiationStateMachine: Sendable {
    /// Policy for one listener's streams.
    public struct Configuration: Sendable {
        /// Whether TLS must, may, or cannot be negotiated with STARTTLS.
        public enum TLSRequirement: Sendable, Hashable {
            /// STARTTLS is required before authentication (the default).
            case required
            /// STARTTLS is offered but not required.
            case optional
            /// No TLS is available on this stream (tests, or a listener behind a TLS terminator).
            case unavailable
        }

        /// The domains this server serves, normalized (lower case).
        public var domains: Set<String>
        /// The STARTTLS policy; irrelevant on a stream that starts secured (direct TLS).
        public var tls: TLSRequirement
        /// The mechanisms offered, in order. -PLUS variants of the SCRAM ones are added in front when the stream
        /// has channel binding; PLAIN is offered only on secured streams.
        public var mechanisms: [SASLMechanism]
        /// Failed authentication attempts allowed on one stream before it is closed (RFC 6120 §6.4.5: 2 to 5).
        public var maximumAuthenticationAttempts: Int
        /// Extra features offered before authentication, such as in-band registration.
        public var preAuthenticationFeatures: [Element]
        /// Extra features offered after authentication, such as stream management.
        public var postAuthenticationFeatures: [Element]
        /// Whether an `<iq/>` before authentication is passed on (for in-band registration, XEP-0077) rather
        /// than closing the stream with `not-authorized`.
        public var allowsPreAuthenticationIQ: Bool

        /// Creates a configuration.
        public init(domains: Set<String>, tls: TLSRequirement = .required,
                    mechanisms: [SASLMechanism] = [.scramSHA512, .scramSHA256, .scramSHA1, .plain],
                    maximumAuthenticationAttempts: Int = 3, preAuthenticationFeatures: [Element] = [],
                    postAuthenticationFeatures: [Element] = [], allowsPreAuthenticationIQ: Bool = false) {
            self.domains = domains
            self.tls = tls
            self.mechanisms = mechanisms
            self.maximumAuthenticationAttempts = maximumAuthenticationAttempts
            self.preAuthenticationFeatures = preAuthenticationFeatures
            self.postAuthenticationFeatures = postAuthenticationFeatures
            self.allowsPreAuthenticationIQ = allowsPreAuthenticationIQ
        }
    }

    /// What the session must do next.
    public enum Action: Sendable, Hashable {
        /// Nothing to do.
        case none
        /// Send this element.
        case send(Element)
        /// Send this stream header, then these features.
        case openStream(StreamHeader, StreamFeatures)
        /// Send `<proceed/>` (the element), then start TLS, reset the parser, and call ``tlsEstablished(channelBinding:)``.
        case startTLS(proceed: Element)
        /// Look up the account's SCRAM credentials for this hash, then call ``credentialsFound(_:)``.
        case lookUpCredentials(username: String, hash: SCRAMHash)
        /// PLAIN: check the offered password against the stored credentials (``passwordMatches(_:_:)``: key
        /// derivation, milliseconds of CPU, so not on an event loop), then call ``plainPasswordChecked(matches:)``.
        case checkPassword(String, against: SCRAMCredentials)
        /// Send `<success/>` (the element) and reset the parser: the client restarts the stream.
        case authenticated(username: String, success: Element)
        /// Choose the resource (`nil`: generate one; replace a session already using it), then call
        /// ``resourceBound(_:)`` or ``resourceBindingFailed(_:)``.
        case bindResource(username: String, requested: String?)
        /// The session is bound to this JID; send `reply` (the bind result).
        case established(JID, reply: Element)
        /// An `<iq/>` before authentication, passed on because ``Configuration/allowsPreAuthenticationIQ`` is set.
        case preAuthenticationIQ(Element)
        /// A stanza on an established stream, for the router.
        case stanza(Element)
        /// An element that is not a stanza (stream management, CSI, ...) after authentication, for modules.
        case nonza(Element)
        /// Send this element, then close the stream (a refused STARTTLS, RFC 6120 §5.4.2.2).
        case sendAndClose(Element)
        /// Close the stream: send `header` first if given (an error before our header), then the error if any,
        /// then the closing tag.
        case close(StreamError?, header: StreamHeader?)
    }

    enum State: Sendable {
        case awaitingHeader
        case negotiating
        case awaitingCredentials(SASLExchange)
        case authenticating(SASLExchange)
        case binding(requestID: String)
        case established(JID)
        case closed
    }

    enum SASLExchange: Sendable {
        /// A SCRAM exchange; `username` is known once the client-first-message has been read.
        case scram(SCRAMServer, username: String?)
        case plain(PlainMechanism.Credentials)
        /// PLAIN, the password being checked.
        case plainChecking(username: String)
    }

    /// The policy in force.
    public let configuration: Configuration
    var state: State = .awaitingHeader
    var isSecured: Bool
    var channelBinding: ChannelBinding?
    var headerSent = false
    var domain = ""
    var language = "en"
    var username: String?
    var failedAttempts = 0

    /// Creates the state machine for a new connection.
    /// - Parameters:
    ///   - isSecured: Whether the connection is already encrypted (direct TLS, XEP-0368).
    ///   - channelBinding: The connection's channel-binding data, when it is secured and TLS provides it.
    public init(configuration: Configuration, isSecured: Bool = false, channelBinding: ChannelBinding? = nil) {
        self.configuration = configuration
        self.isSecured = isSecured
        self.channelBinding = channelBinding
    }

    /// The served domain the client opened the stream to, once known.
    public var streamDomain: String? { domain.isEmpty ? nil : domain }

    /// The bound JID once the stream is established.
    public var boundJID: JID? {
        if case .established(let jid) = state { return jid }
        return nil
    }

    /// Whether the stream has been secured with TLS.
    public var isEncrypted: Bool { isSecured }

    // MARK: - Inputs

    /// The client opened (or restarted) the stream.
    public mutating func receivedHeader(_ element: Element, contentNamespace: String) -> Action {
        guard case .awaitingHeader = state else { return fail(StreamError(.notWellFormed, text: "unexpected stream header")) }
        let header: StreamHeader
        do {
            header = try StreamHeader(element: element, contentNamespace: contentNamespace)
        } catch {
            return fail(error)
        }
        if let requested = header.to.flatMap({ try? DomainName.normalize($0) }), configuration.domains.contains(requested) {
            guard domain.isEmpty || domain == requested else { return fail(StreamError(.hostUnknown, text: "the domain changed on restart")) }
            domain = requested
        } else {
            if domain.isEmpty { domain = configuration.domains.sorted().first ?? "" }
            return fail(StreamError(.hostUnknown, text: "this server does not serve \(header.to ?? "an unnamed host")"))
        }
        if let language = header.language, !language.isEmpty { self.language = language }
        guard contentNamespace == XMLNamespace.client else {
            return fail(StreamError(.invalidNamespace, text: "the content namespace must be jabber:client"))
        }
        guard let version = header.versionNumbers, version.major >= 1 else {
            return fail(StreamError(.unsupportedVersion, text: "XMPP 1.0 is required"))
        }
        let reply = responseHeader(to: header)
        headerSent = true
        state = .negotiating
        return .openStream(reply, features())
    }

    /// A complete top-level element arrived.
    public mutating func received(_ element: Element) -> Action {
        switch state {
        case .established:
            return established(element)
        case .negotiating:
            return negotiate(element)
        case .authenticating(let exchange):
            return continueSASL(exchange, with: element)
        case .awaitingHeader, .awaitingCredentials, .binding:
            return fail(StreamError(.notAuthorized, text: "unexpected \(element.name) during negotiation"))
        case .closed:
            return .none
        }
    }

    /// The client closed its stream; close ours.
    public mutating func receivedStreamClose() -> Action {
        state = .closed
        return .close(nil, header: nil)
    }

    /// The parser failed; close with the stream error it names.
    public mutating func parserFailed(_ error: XMLStreamError) -> Action {
        fail(StreamError(error))
    }

    /// TLS is up after `<proceed/>`; the client will send a new header.
    public mutating func tlsEstablished(channelBinding: ChannelBinding?) {
        isSecured = true
        self.channelBinding = channelBinding
        state = .awaitingHeader
    }

    /// The answer to ``Action/lookUpCredentials(username:hash:)``: the credentials, or `nil` for no such account.
    public mutating func credentialsFound(_ credentials: SCRAMCredentials?) -> Action {
        guard case .awaitingCredentials(let exchange) = state else { return .none }
        switch exchange {
        case .scram(var scram, let user):
            let challenge = scram.serverFirstMessage(credentials: credentials)
            state = .authenticating(.scram(scram, username: user))
            return .send(Element("challenge", namespace: XMLNamespace.sasl, text: Base64.encode(challenge)))
        case .plain(let offered):
            guard let credentials else { return saslFailed(SASLError(.notAuthorized)) }
            state = .awaitingCredentials(.plainChecking(username: offered.username))
            return .checkPassword(offered.password, against: credentials)
        case .plainChecking:
            return .none
        }
    }

    /// Whether `password` yields `credentials`' stored key (PLAIN): a key derivation, to run off the event loop.
    public static func passwordMatches(_ password: String, _ credentials: SCRAMCredentials) -> Bool {
        let derived = SCRAMCredentials.derive(password: password, hash: credentials.hash,
                                              iterations: credentials.iterations, salt: credentials.salt)
        return constantTimeEqual(derived.storedKey, credentials.storedKey)
    }

    /// The answer to ``Action/checkPassword(_:against:)``.
    public mutating func plainPasswordChecked(matches: Bool) -> Action {
        guard case .awaitingCredentials(.plainChecking(let username)) = state else { return .none }
        guard matches else { return saslFailed(SASLError(.notAuthorized)) }
        return succeed(username: username, additionalData: nil)
    }

    /// The answer to ``Action/lookUpCredentials(username:hash:)`` when the server refuses to check them now
    /// (too many recent failures: `temporary-auth-failure`). It counts as a failed attempt.
    public mutating func credentialsUnavailable(_ error: SASLError) -> Action {
        guard case .awaitingCredentials = state else { return .none }
        return saslFailed(error)
    }

    /// The answer to ``Action/bindResource(username:requested:)``: the session's full JID.
    public mutating func resourceBound(_ jid: JID) -> Action {
        guard case .binding(let requestID) = state else { return .none }
        state = .established(jid)
        let bind = Element("bind", namespace: XMLNamespace.bind, children: [.element(Element("jid", namespace: XMLNamespace.bind, text: jid.description))])
        let reply = IQ(type: .result, id: requestID, payload: bind)
        return .established(jid, reply: reply.element)
    }

    /// A stream management resumption (XEP-0198 §5) took the place of binding: the stream carries on the session
    /// `jid` had on an earlier connection. Only for the authenticated user's own session, before binding.
    public mutating func streamResumed(_ jid: JID) -> Bool {
        guard case .negotiating = state, let username, jid.localpart == username else { return false }
        state = .established(jid)
        return true
    }

    /// The answer to ``Action/bindResource(username:requested:)`` when binding is refused
    /// (`not-allowed`, `resource-constraint`, `conflict`); the client may try again.
    public mutating func resourceBindingFailed(_ error: StanzaError) -> Action {
        guard case .binding(let requestID) = state else { return .none }
        state = .negotiating
        return .send(IQ(type: .set, id: requestID).errorReply(error))
    }

    // MARK: - Negotiation steps

    private mutating func negotiate(_ element: Element) -> Action {
        switch (element.name, element.namespace) {
        case ("starttls", XMLNamespace.tls):
            guard !isSecured, configuration.tls != .unavailable, username == nil else {
                state = .closed
                return .sendAndClose(Element("failure", namespace: XMLNamespace.tls))
            }
            state = .awaitingHeader
            return .startTLS(proceed: Element("proceed", namespace: XMLNamespace.tls))
        case ("auth", XMLNamespace.sasl):
            return beginSASL(element)
        case ("abort", XMLNamespace.sasl):
            return .send(SASLError(.aborted).element)
        case ("iq", XMLNamespace.client) where username != nil:
            return bindRequest(element)
        case ("iq", XMLNamespace.client) where configuration.allowsPreAuthenticationIQ && (isSecured || configuration.tls != .required):
            return .preAuthenticationIQ(element)
        default:
            if username != nil && !["message", "presence", "iq"].contains(element.name) { return .nonza(element) }
            if !isSecured && configuration.tls == .required {
                return fail(StreamError(.policyViolation, text: "STARTTLS is required"))
            }
            return fail(StreamError(.notAuthorized, text: username == nil ? "authenticate first" : "bind a resource first"))
        }
    }

    private mutating func bindRequest(_ element: Element) -> Action {
        guard let iq = IQ(element: element), iq.type == .set, let bind = iq.payload, bind.name == "bind",
              bind.namespace == XMLNamespace.bind, let id = iq.id, let username else {
            return fail(StreamError(.notAuthorized, text: "bind a resource first"))
        }
        var requested: String?
        if let resource = bind.child("resource", namespace: XMLNamespace.bind)?.text, !resource.isEmpty {
            guard let valid = try? PRECIS.opaqueString(resource) else {
                return .send(iq.errorReply(StanzaError(.badRequest, text: "invalid resourcepart")))
            }
            requested = valid
        }
        state = .binding(requestID: id)
        return .bindResource(username: username, requested: requested)
    }

    private mutating func established(_ element: Element) -> Action {
        guard element.namespace == XMLNamespace.client else { return .nonza(element) }
        switch element.name {
        case "message", "presence":
            return .stanza(element)
        case "iq":
            // The legacy session request (RFC 3921) is answered here: it is a no-op in RFC 6121.
            if let iq = IQ(element: element), iq.type == .set, let payload = iq.payload,
               payload.name == "session", payload.namespace == XMLNamespace.session, iq.toAttribute == nil || iq.to == JID(validating: domain) {
                return .send(iq.result().element)
            }
            return .stanza(element)
        default:
            return fail(StreamError(.unsupportedStanzaType, text: "unknown stanza \(element.name)"))
        }
    }

    // MARK: - Helpers

    /// The mechanisms offered on this stream right now.
    public var offeredMechanisms: [SASLMechanism] {
        var offered: [SASLMechanism] = []
        if channelBinding != nil {
            offered += configuration.mechanisms.compactMap { $0.scramHash?.plusMechanism }
        }
        offered += configuration.mechanisms.filter { !$0.usesChannelBinding && ($0 != .plain || isSecured) }
        return offered
    }

    private func features() -> StreamFeatures {
        if username != nil {
            return StreamFeatures([StreamFeatures.bindFeature, StreamFeatures.optionalSessionFeature] + configuration.postAuthenticationFeatures)
        }
        var elements: [Element] = []
        if !isSecured && configuration.tls != .unavailable {
            elements.append(StreamFeatures.startTLSFeature(required: configuration.tls == .required))
            // With TLS required, nothing else is offered until it is negotiated (RFC 6120 §5.3.1).
            if configuration.tls == .required { return StreamFeatures(elements) }
        }
        elements.append(StreamFeatures.mechanismsFeature(offeredMechanisms))
        if let channelBinding {
            // XEP-0440: say which channel-binding type the -PLUS mechanisms use here.
            elements.append(StreamFeatures.channelBindingFeature([channelBinding.type]))
        }
        elements += configuration.preAuthenticationFeatures
        return StreamFeatures(elements)
    }

    private func responseHeader(to header: StreamHeader) -> StreamHeader {
        let client = header.from.flatMap { JID(validating: $0) }
        return StreamHeader(from: domain, to: client?.description, id: StanzaID.make() + StanzaID.make(), version: "1.0",
                            language: language, contentNamespace: XMLNamespace.client)
    }

    mutating func fail(_ error: StreamError) -> Action {
        let header = headerSent ? nil : StreamHeader(from: domain.isEmpty ? nil : domain, id: StanzaID.make(), version: "1.0",
                                                     contentNamespace: XMLNamespace.client)
        headerSent = true
        state = .closed
        return .close(error, header: header)
    }
}
