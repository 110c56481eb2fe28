import Logging
import NIOCore
import Atomics
import XMPPCore

/// The heart of the server: the session registry, the router for messages, presence and IQs, and the
/// handlers the modules registered. Transports hand it bound sessions and the stanzas they read; it never
/// touches a socket.
///
/// Stanza processing is synchronous on the sender's event loop when no storage is involved (a message to an
/// online full JID); otherwise it returns a future that completes on that loop, and the session holds back
/// the client's next stanzas until it does, so each client's stanzas take effect in order.
public final class ServerKernel: Sendable {
    /// The policy in force.
    public let configuration: KernelConfiguration
    /// The stores.
    public let storage: ServerStorage
    /// Every online session.
    public let registry: SessionRegistry
    /// The kernel's logger.
    public let logger: Logger
    /// The server's own JID (its domain).
    public let domainJID: JID

    /// Asynchronous work under way (``run(on:_:)``), for shutdown.
    let inFlight = ManagedAtomic<Int>(0)
    /// Accounts whose deletion is under way: they may not bind, and messages to them bounce.
    let accountsBeingDeleted = Locked<Set<String>>([])
    /// Accounts deleted in the last minute, whose sessions may still be closing: nothing is recorded for them.
    let recentlyDeletedAccounts = Locked<Set<String>>([])
    /// The disabled accounts, once read from storage (nil until then): the login path checks them without a read.
    let disabledAccounts = Locked<Set<String>?>(nil)
    /// IQ requests the server sent to clients, waiting for their answers (``request(_:type:to:timeout:)``).
    let serverRequests = ServerRequests(limit: 1024)
    let iqHandlers: [IQTarget: [String: IQHandler]]
    let preAuthenticationHandlers: [String: PreAuthenticationIQHandler]
    let hooks: KernelHooks
    let services: [String: any HostedService]
    /// Where stanzas for remote domains go (the federation module's), if anywhere.
    public let remoteRouter: (any RemoteRouter)?
    /// The other nodes of the cluster this server is a node of, if it is one.
    public let clusterLink: (any ClusterLink)?
    /// Disco identities of the server (XEP-0030), in the order the modules added them.
    public let serverIdentities: [DiscoIdentity]
    /// Disco features of the server, sorted.
    public let serverFeatures: [String]
    /// The extended information forms of the server's disco#info (XEP-0128).
    public let serverInfoForms: [DataForm]
    /// Disco features of accounts, sorted.
    public let accountFeatures: [String]
    /// Disco identities of accounts besides `account/registered` (`pubsub/pep`).
    public let accountIdentities: [DiscoIdentity]
    /// Stream features offered before authentication.
    public let preAuthenticationFeatures: [Element]
    /// Stream features offered after authentication.
    public let postAuthenticationFeatures: [Element]
    /// The active modules' names and specifications.
    public let modules: [(name: String, specifications: [String])]
    /// The configuration options the active modules declared, by key.
    public let options: [String: ConfigOption]

    /// Builds a kernel and activates `modules` in order.
    public init(configuration: KernelConfiguration, storage: ServerStorage, modules: [any ServerModule],
                logger: Logger = Logger(label: "xmppd.kernel")) throws {
        self.configuration = configuration
        self.storage = storage
        self.registry = SessionRegistry()
        self.logger = logger
        self.domainJID = try JID(localpart: nil, domainpart: configuration.domain)
        let host = ModuleHost(configuration: configuration)
        host.addServerFeature("jabber:client")
        var options: [String: ConfigOption] = [:]
        for module in modules {
            for option in module.options {
                precondition(options[option.key] == nil, "two modules declare the option \(option.key)")
                options[option.key] = option
            }
        }
        try configuration.validateModuleSettings(against: options)
        for module in modules {
            host.activeModule = module.name
            module.activate(in: host)
        }
        self.options = options
        iqHandlers = host.iqHandlers
        preAuthenticationHandlers = host.preAuthenticationHandlers
        hooks = host.hooks
        // In a cluster, stanzas to a partitioned service (chat rooms) go to the node serving the partition.
        services = host.clusterLink.map { link in host.services.mapValues { link.routing($0) } } ?? host.services
        remoteRouter = host.remoteRouter
        clusterLink = host.clusterLink
        serverIdentities = host.serverIdentities
        serverFeatures = host.serverFeatures.sorted()
        serverInfoForms = host.serverInfoForms
        accountFeatures = host.accountFeatures.sorted()
        accountIdentities = host.accountIdentities
        preAuthenticationFeatures = host.preAuthenticationFeatures
        var postAuthentication = host.postAuthenticationFeatures
        if host.serverFeatures.contains(DiscoModule.infoNamespace) {
            postAuthentication.append(DiscoModule.capsFeature(identities: serverIdentities, features: serverFeatures, forms: serverInfoForms))
        }
        postAuthenticationFeatures = postAuthentication
        self.modules = modules.map { ($0.name, $0.specifications) }
    }

    /// The hosted services (multi-user chat, ...), by domain.
    public var hostedServices: [any HostedService] {
        services.values.map { ($0 as? any RoutedService)?.routedService ?? $0 }.sorted { $0.domain < $1.domain }
    }

    /// Whether `domain` is one of the hosted services' (a chat service): what they send is not a user's.
    public func isHostedService(_ domain: String) -> Bool { services[domain] != nil }

    /// Whether `jid` is on this server.
    public func isLocal(_ jid: JID) -> Bool { jid.domainpart == configuration.domain }

    /// Runs `work` as a task and completes the returned future on `eventLoop`; counted, so shutdown can wait for it.
    func run(on eventLoop: any EventLoop, _ work: @escaping @Sendable () async -> Void) -> EventLoopFuture<Void> {
        inFlight.wrappingIncrement(ordering: .relaxed)
        return eventLoop.makeFutureWithTask {
            await work()
            self.inFlight.wrappingDecrement(ordering: .relaxed)
        }
    }

    /// Starts background work a module does outside any stanza (an archive write); counted like ``run(on:_:)``, so
    /// shutdown waits for it.
    public func startBackgroundTask(_ work: @escaping @Sendable () async -> Void) {
        inFlight.wrappingIncrement(ordering: .relaxed)
        Task {
            await work()
            self.inFlight.wrappingDecrement(ordering: .relaxed)
        }
    }

    /// Waits until every session has ended and the work they started (storage writes, presence, hooks) is done,
    /// or `timeout` passed; `true` when everything settled.
    public func settle(timeout: Duration) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while hasSessionsOfThisNode || inFlight.load(ordering: .relaxed) > 0 {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }

    /// Whether any session of this server is registered (the mirrored sessions of other cluster nodes aside).
    private var hasSessionsOfThisNode: Bool {
        clusterLink == nil ? registry.count > 0 : registry.allSessions().contains { $0.clusterNode == nil }
    }

    // MARK: - Authentication

    /// The credentials SASL needs for `username`. For an unknown account: credentials no password matches, with
    /// the same salt every time (derived from the server's secret and the name) and the usual iteration count, so
    /// the exchange looks like any failed login and nobody learns which accounts exist. `nil` only when storage
    /// failed.
    public func credentials(of username: String, hash: SCRAMHash) async -> SCRAMCredentials? {
        do {
            if let stored = try await storage.accounts.credentials(of: username, hash: hash) { return stored }
            return decoyCredentials(for: username, hash: hash)
        } catch {
            logger.error("credential lookup failed", metadata: ["user": "\(username)", "error": "\(error)"])
            return nil
        }
    }

    /// Credentials for a name without an account: a stable salt, random keys.
    func decoyCredentials(for username: String, hash: SCRAMHash) -> SCRAMCredentials {
        let salt = Array(hash.hmac(key: configuration.secret, Array("salt \(hash.rawValue) \(username)".utf8)).prefix(16))
        let random = { hash.hash((0..<32).map { _ in UInt8.random(in: 0...255) }) }
        return SCRAMCredentials(hash: hash, salt: salt, iterations: 4096, storedKey: random(), serverKey: random())
    }

    // MARK: - Pre-authentication IQ

    /// Answers an IQ sent before authentication (in-band registration), or `service-unavailable`.
    public func handlePreAuthenticationIQ(_ element: Element, remoteAddress: String) async -> Element {
        guard let iq = IQ(element: element), iq.isValid, let type = iq.type else {
            return IQ(element: element).map { $0.errorReply(StanzaError(.badRequest)) } ?? element
        }
        guard type.isRequest else { return iq.errorReply(StanzaError(.notAuthorized)) }
        guard let namespace = iq.payload?.namespace, let handler = preAuthenticationHandlers[namespace] else {
            return iq.errorReply(StanzaError(.serviceUnavailable))
        }
        let request = PreAuthenticationRequest(iq: iq, remoteAddress: remoteAddress, domain: configuration.domain, kernel: self)
        do {
            let payload = try await handler(request)
            var reply = iq.result(payload: payload)
            reply.element.setAttribute("from", to: nil)
            return reply.element
        } catch let error as StanzaError {
            return iq.errorReply(error)
        } catch {
            logger.error("pre-authentication handler failed", metadata: ["namespace": "\(namespace)", "error": "\(error)"])
            return iq.errorReply(StanzaError(.internalServerError))
        }
    }
}
