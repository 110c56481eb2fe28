/// The initiating side of a client-to-server stream negotiation (RFC 6120 §4–§7): STARTTLS, SASL with the
/// strongest common mechanism, stream restarts, resource binding and the legacy session when required.
/// Sans-I/O: every input returns an ``Action`` for the connection to carry out.
///
/// ```swift
/// var negotiation = ClientNegotiationStateMachine(configuration: .init(jid: jid, password: password))
/// send(negotiation.start())                          // .sendHeader
/// // for each parser event: receivedHeader(_:contentNamespace:) or received(_:)
/// // on .startTLS: add TLS, reset the parser, then tlsEstablished(channelBinding:)
/// // until .established(boundJID, features)
/// ```
public struct ClientNegotiationStateMachine: Sendable {
    /// How the client negotiates.
    public struct Configuration: Sendable {
        /// Whether the client insists on TLS.
        public enum TLSPolicy: Sendable, Hashable {
            /// Refuse to authenticate without TLS (the default).
            case required
            /// Use STARTTLS when offered, continue without it otherwise.
            case ifAvailable
            /// Never negotiate STARTTLS (tests against a server without TLS).
            case disabled
        }

        /// The account's JID; a resourcepart, if present, is requested at bind time.
        public var jid: JID
        /// The password.
        public var password: String
        /// The STARTTLS policy; ignored when the connection starts secured (direct TLS).
        public var tls: TLSPolicy
        /// Mechanisms the client may use, in order of preference.
        public var mechanisms: [SASLMechanism]
        /// The `xml:lang` to declare on the stream.
        public var language: String?
        /// Where SCRAM keys derived from the password are kept between logins; `nil` derives them every time.
        public var scramKeyCache: SCRAMKeyCache?
        /// Whether to create the account with in-band registration (XEP-0077) over the secured stream before
        /// authenticating with the same credentials.
        public var registersAccount = false
        /// A stream-managed session to resume (XEP-0198 §5) instead of binding a new one, when the server offers
        /// stream management; if the server refuses, a resource is bound as usual.
        public var resumption: StreamResumption?

        /// Creates a configuration.
        public init(jid: JID, password: String, tls: TLSPolicy = .required,
                    mechanisms: [SASLMechanism] = SASLMechanism.preferenceOrder, language: String? = "en",
                    scramKeyCache: SCRAMKeyCache? = nil) {
            self.jid = jid
            self.scramKeyCache = scramKeyCache
            self.password = password
            self.tls = tls
            self.mechanisms = mechanisms
            self.language = language
        }
    }

    /// What the connection must do next.
    public enum Action: Sendable, Hashable {
        /// Nothing to do.
        case none
        /// Send this stream header.
        case sendHeader(StreamHeader)
        /// Send this element.
        case send(Element)
        /// The server said `<proceed/>`: start TLS, reset the parser, then call ``tlsEstablished(channelBinding:)``.
        case startTLS
        /// Authentication succeeded: reset the parser and send this new header.
        case restartStream(StreamHeader)
        /// The stream is ready: bound to this JID, with the server's post-authentication features.
        case established(JID, StreamFeatures)
        /// The stream resumed the session of ``Configuration/resumption`` (XEP-0198 §5): `handled` is how many of
        /// the stanzas the client sent the server had handled; the server now re-sends what the client did not
        /// acknowledge.
        case resumed(JID, handled: UInt32, StreamFeatures)
        /// A stanza or nonza on the established stream.
        case stanza(Element)
        /// Negotiation failed or the server closed the stream: close the connection.
        case failed(ClientNegotiationError)
    }

    private enum State: Sendable {
        case idle
        case awaitingHeader
        case awaitingFeatures
        case awaitingProceed
        case awaitingTLS
        case registering(requestID: String)
        case authenticating(SCRAMClient?, verified: Bool)
        case binding(requestID: String)
        case resuming(StreamResumption)
        case session(requestID: String, JID)
        case established(JID)
        case closed
    }

    /// The configuration in force.
    public let configuration: Configuration
    private var state: State = .idle
    private var isSecured: Bool
    private var channelBinding: ChannelBinding?
    private var isAuthenticated = false
    private var features = StreamFeatures()

    /// Creates the state machine for a new connection.
    /// - Parameters:
    ///   - isSecured: Whether the connection is already encrypted (direct TLS).
    ///   - channelBinding: The connection's channel-binding data, when secured and available.
    public init(configuration: Configuration, isSecured: Bool = false, channelBinding: ChannelBinding? = nil) {
        self.configuration = configuration
        self.isSecured = isSecured
        self.channelBinding = channelBinding
    }

    /// The mechanism chosen for authentication, once chosen.
    public private(set) var chosenMechanism: SASLMechanism?

    /// Whether ``start()`` has been called.
    public var isStarted: Bool {
        if case .idle = state { return false }
        return true
    }

    /// Whether the connection has been secured with TLS.
    public var isEncrypted: Bool { isSecured }

    // MARK: - Inputs

    /// Opens the stream.
    public mutating func start() -> Action {
        state = .awaitingHeader
        return .sendHeader(header())
    }

    /// The server's stream header arrived.
    public mutating func receivedHeader(_ element: Element, contentNamespace: String) -> Action {
        guard case .awaitingHeader = state else { return fail(.unexpected("stream header")) }
        do {
            let header = try StreamHeader(element: element, contentNamespace: contentNamespace)
            guard contentNamespace == XMLNamespace.client else { return fail(.streamError(StreamError(.invalidNamespace))) }
            guard let version = header.versionNumbers, version.major >= 1 else {
                return fail(.streamError(StreamError(.unsupportedVersion)))
            }
        } catch {
            return fail(.streamError(error))
        }
        state = .awaitingFeatures
        return .none
    }

    /// A complete top-level element arrived.
    public mutating func received(_ element: Element) -> Action {
        if case .closed = state { return .none }
        if let streamError = StreamError(element: element) { return fail(.streamError(streamError)) }
        switch state {
        case .awaitingFeatures:
            guard let offered = StreamFeatures(element: element) else { return fail(.unexpected(element.name)) }
            features = offered
            return negotiateFeatures()
        case .awaitingProceed:
            guard element.namespace == XMLNamespace.tls else { return fail(.unexpected(element.name)) }
            guard element.name == "proceed" else { return fail(.tlsFailed) }
            state = .awaitingTLS
            return .startTLS
        case .registering(let requestID):
            guard let iq = IQ(element: element), iq.id == requestID else { return fail(.unexpected(element.name)) }
            guard iq.type == .result else { return fail(.registrationFailed(iq.error ?? StanzaError(.undefinedCondition))) }
            return beginSASL()
        case .authenticating(let scram, let verified):
            return continueSASL(element, scram: scram, verified: verified)
        case .binding(let requestID):
            return bindResult(element, requestID: requestID)
        case .resuming(let resumption):
            guard element.namespace == StreamManagementVocabulary.namespace else { return fail(.unexpected(element.name)) }
            if element.name == "resumed", let handled = StreamManagementVocabulary.handledCount(in: element) {
                state = .established(resumption.jid)
                return .resumed(resumption.jid, handled: handled, features)
            }
            // <failed/>: the session is gone; a new one is bound.
            return bindRequest()
        case .session(let requestID, let jid):
            guard let iq = IQ(element: element), iq.id == requestID else { return .stanza(element) }
            guard iq.type == .result else { return fail(.bindFailed(iq.error ?? StanzaError(.undefinedCondition))) }
            state = .established(jid)
            return .established(jid, features)
        case .established:
            return .stanza(element)
        case .idle, .awaitingHeader, .awaitingTLS, .closed:
            return fail(.unexpected(element.name))
        }
    }

    /// TLS is up after `<proceed/>`: restart the stream over it.
    public mutating func tlsEstablished(channelBinding: ChannelBinding?) -> Action {
        isSecured = true
        self.channelBinding = channelBinding
        state = .awaitingHeader
        return .sendHeader(header())
    }

    /// The server closed its stream.
    public mutating func receivedStreamClose() -> Action {
        if case .closed = state { return .none }
        if case .established = state {
            state = .closed
            return .failed(.closedByServer)
        }
        return fail(.closedByServer)
    }

    /// The parser failed on the server's bytes.
    public mutating func parserFailed(_ error: XMLStreamError) -> Action {
        if case .closed = state { return .none }
        return fail(.streamError(StreamError(error)))
    }

    // MARK: - Steps

    private mutating func negotiateFeatures() -> Action {
        if !isSecured && configuration.tls != .disabled {
            if features.startTLS.offered {
                state = .awaitingProceed
                return .send(Element("starttls", namespace: XMLNamespace.tls))
            }
            if configuration.tls == .required { return fail(.tlsRequired) }
        }
        if !isAuthenticated { return configuration.registersAccount ? beginRegistration() : beginSASL() }
        if let resumption = configuration.resumption,
           features.feature("sm", StreamManagementVocabulary.namespace) != nil {
            state = .resuming(resumption)
            return .send(Element("resume", namespace: StreamManagementVocabulary.namespace,
                                 attributes: ["previd": resumption.previousID, "h": String(resumption.handled)]))
        }
        return bindRequest()
    }

    private mutating func bindRequest() -> Action {
        guard features.offersBind else { return fail(.unexpected("no resource binding offered")) }
        var bind = Element("bind", namespace: XMLNamespace.bind)
        if let resource = configuration.jid.resourcepart {
            bind.append(Element("resource", namespace: XMLNamespace.bind, text: resource))
        }
        let request = IQ(type: .set, payload: bind)
        state = .binding(requestID: request.id ?? "")
        return .send(request.element)
    }

    private mutating func beginRegistration() -> Action {
        guard let username = configuration.jid.localpart else { return fail(.registrationFailed(StanzaError(.badRequest))) }
        // XEP-0077 §3: a server that lets anyone register says so in its features; asking one that does not would
        // only earn a stream error before authentication.
        guard features.feature("register", "http://jabber.org/features/iq-register") != nil else {
            return fail(.registrationFailed(StanzaError(.notAllowed, text: "registration is disabled on this server")))
        }
        let namespace = "jabber:iq:register"
        let query = Element("query", namespace: namespace, children: [
            .element(Element("username", namespace: namespace, text: username)),
            .element(Element("password", namespace: namespace, text: configuration.password)),
        ])
        let request = IQ(type: .set, payload: query)
        state = .registering(requestID: request.id ?? "")
        return .send(request.element)
    }

    /// The channel binding SCRAM may use with this server: ours, when the server lists its type (XEP-0440).
    /// A server that lists nothing may expect tls-unique, which TLS 1.3 lacks, so binding is then used only
    /// to signal support (`y`) to a server that offers no -PLUS mechanism at all.
    private func usableChannelBinding(offersPlus: Bool) -> ChannelBinding? {
        guard let channelBinding else { return nil }
        if let advertised = features.channelBindingTypes { return advertised.contains(channelBinding.type.rawValue) ? channelBinding : nil }
        return offersPlus ? nil : channelBinding
    }

    private mutating func beginSASL() -> Action {
        let offered = features.saslMechanisms
        let offersPlus = offered.contains { $0.hasSuffix("-PLUS") }
        let channelBinding = usableChannelBinding(offersPlus: offersPlus)
        let usable = configuration.mechanisms.first { mechanism in
            guard offered.contains(mechanism.rawValue) else { return false }
            if mechanism.usesChannelBinding { return channelBinding != nil }
            if mechanism == .plain { return isSecured }
            return true
        }
        guard let mechanism = usable, let username = configuration.jid.localpart else {
            return fail(.noCommonMechanism(offered))
        }
        chosenMechanism = mechanism
        let initialResponse: [UInt8]
        var scram: SCRAMClient?
        if mechanism.scramHash != nil {
            var client = SCRAMClient(mechanism: mechanism, username: username, password: configuration.password,
                                     channelBinding: channelBinding,
                                     serverOffersPlus: offersPlus,
                                     keyCache: configuration.scramKeyCache)
            initialResponse = client.clientFirstMessage()
            scram = client
        } else {
            initialResponse = PlainMechanism.message(username: username, password: configuration.password)
        }
        state = .authenticating(scram, verified: false)
        return .send(Element("auth", namespace: XMLNamespace.sasl, attributes: ["mechanism": mechanism.rawValue],
                             text: Base64.encode(initialResponse)))
    }

    private mutating func continueSASL(_ element: Element, scram: SCRAMClient?, verified: Bool) -> Action {
        guard element.namespace == XMLNamespace.sasl else { return fail(.unexpected(element.name)) }
        let data = element.text.isEmpty || element.text == "=" ? [] : Base64.decode(element.text)
        switch element.name {
        case "challenge":
            guard var client = scram, let data else { return fail(.authenticationFailed(SASLError(.malformedRequest))) }
            do {
                if data.first == UInt8(ascii: "v") || data.first == UInt8(ascii: "e") {
                    // Some servers send the server-final-message as a challenge and an empty success after it.
                    try client.receiveServerFinal(data)
                    state = .authenticating(client, verified: true)
                    return .send(Element("response", namespace: XMLNamespace.sasl))
                }
                let final = try client.receiveServerFirst(data)
                state = .authenticating(client, verified: false)
                return .send(Element("response", namespace: XMLNamespace.sasl, text: Base64.encode(final)))
            } catch {
                return fail(.authenticationFailed(error))
            }
        case "success":
            if let client = scram, !verified {
                guard let data, !data.isEmpty else { return fail(.authenticationFailed(SASLError(.notAuthorized, text: "no server signature"))) }
                do { try client.receiveServerFinal(data) } catch { return fail(.authenticationFailed(error)) }
            }
            isAuthenticated = true
            state = .awaitingHeader
            return .restartStream(header())
        case "failure":
            return fail(.authenticationFailed(SASLError(element: element) ?? SASLError(.notAuthorized)))
        default:
            return fail(.unexpected(element.name))
        }
    }

    private mutating func bindResult(_ element: Element, requestID: String) -> Action {
        guard let iq = IQ(element: element), iq.id == requestID else { return fail(.unexpected(element.name)) }
        guard iq.type == .result else { return fail(.bindFailed(iq.error ?? StanzaError(.undefinedCondition))) }
        guard let text = iq.payload?.child("jid", namespace: XMLNamespace.bind)?.text, let jid = JID(validating: text),
              jid.bare == configuration.jid.bare || jid.domainpart == configuration.jid.domainpart else {
            return fail(.unexpected("bind result without a valid JID"))
        }
        if features.requiresSession {
            let request = IQ(type: .set, payload: Element("session", namespace: XMLNamespace.session))
            state = .session(requestID: request.id ?? "", jid)
            return .send(request.element)
        }
        state = .established(jid)
        return .established(jid, features)
    }

    private func header() -> StreamHeader {
        StreamHeader(from: isSecured ? configuration.jid.bare.description : nil, to: configuration.jid.domainpart,
                     version: "1.0", language: configuration.language, contentNamespace: XMLNamespace.client)
    }

    private mutating func fail(_ error: ClientNegotiationError) -> Action {
        state = .closed
        return .failed(error)
    }
}

/// Why a client could not establish its stream.
public enum ClientNegotiationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// TLS is required by the client's policy but the server did not offer STARTTLS.
    case tlsRequired
    /// The server refused STARTTLS.
    case tlsFailed
    /// No mechanism the client accepts was offered; carries what was offered.
    case noCommonMechanism([String])
    /// SASL failed: wrong credentials, a bad server signature, ...
    case authenticationFailed(SASLError)
    /// Resource binding or session establishment failed.
    case bindFailed(StanzaError)
    /// In-band registration was refused: `conflict` when the username is taken, `not-allowed`, ...
    case registrationFailed(StanzaError)
    /// The server sent a stream error, or its XML was malformed.
    case streamError(StreamError)
    /// The server closed the stream.
    case closedByServer
    /// The server sent something negotiation did not expect.
    case unexpected(String)

    public var description: String {
        switch self {
        case .tlsRequired: return "the server does not offer TLS"
        case .tlsFailed: return "the server refused TLS"
        case .noCommonMechanism(let offered): return "no acceptable SASL mechanism among \(offered)"
        case .authenticationFailed(let error): return "authentication failed: \(error)"
        case .bindFailed(let error): return "resource binding failed: \(error)"
        case .registrationFailed(let error): return "registration failed: \(error)"
        case .streamError(let error): return "\(error)"
        case .closedByServer: return "the server closed the stream"
        case .unexpected(let what): return "unexpected \(what) during negotiation"
        }
    }
}

/// What a client needs to resume a stream-managed session (XEP-0198 §5).
public struct StreamResumption: Sendable, Hashable {
    /// The id the server gave in `<enabled/>`.
    public var previousID: String
    /// How many stanzas the client handled from the server on the earlier connection.
    public var handled: UInt32
    /// The session's full JID.
    public var jid: JID

    /// Creates resumption details.
    public init(previousID: String, handled: UInt32, jid: JID) {
        self.previousID = previousID
        self.handled = handled
        self.jid = jid
    }
}
