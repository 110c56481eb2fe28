import XMPPCore

/// A server feature (Prosody's `mod_*`, ejabberd's `gen_mod`). A module only registers in ``activate(in:)``:
/// IQ handlers by payload namespace, hooks, disco features and stream features. The kernel routes; handlers
/// never re-check addressing.
public protocol ServerModule: Sendable {
    /// A short name, such as `ping`.
    var name: String { get }
    /// The specifications the module implements, such as `XEP-0199 2.0.1` (docs/xmppd.doap is generated from them).
    var specifications: [String] { get }
    /// The configuration keys the module reads, with types, defaults, bounds and one-line docs. The config file
    /// and `--set` are checked against them; values reach the module through ``ModuleHost/option(_:)``.
    var options: [ConfigOption] { get }
    /// Registers the module's handlers, hooks and features.
    func activate(in host: ModuleHost)
}

extension ServerModule {
    /// No options.
    public var options: [ConfigOption] { [] }
}

/// Who an IQ request is addressed to, as the kernel resolved it (RFC 6120 §10.3), so that handlers never
/// re-check addressing.
public enum IQTarget: Sendable, Hashable {
    /// The server itself (`to` is the domain).
    case server
    /// The sender's own account (`to` is the sender's bare JID, or absent).
    case ownAccount
    /// Another local account (`to` is its bare JID); the kernel answers `service-unavailable` for a missing
    /// account before any handler runs.
    case otherAccount
}

extension Set where Element == IQTarget {
    /// Any account: the sender's own and others'.
    public static var anyAccount: Set<IQTarget> { [.ownAccount, .otherAccount] }
}

/// An IQ request handed to a module's handler.
public struct IQRequest: Sendable {
    /// The request, with `from` stamped by the server.
    public var iq: IQ
    /// The sender's full JID.
    public var from: JID
    /// The addressee: the server's domain, or the bare JID of the account it is addressed to.
    public var to: JID
    /// The kernel, for storage and routing.
    public var kernel: ServerKernel
    /// The session that sent the request; `nil` when a hosted service sent it (a chat room forwarding a vCard
    /// request of one occupant about another).
    public var session: (any ClientSession)?

    /// The request's payload (`get`/`set` always carry exactly one).
    public var payload: Element { iq.payload ?? Element("none", namespace: "") }

    /// Whether the sender addressed their own account.
    public var isFromOwner: Bool { from.bare == to }

    /// The account name of the sender; empty for a sender on another server or a hosted service, who has no account
    /// here whatever its localpart says.
    public var senderUsername: String { kernel.isLocal(from) ? from.localpart ?? "" : "" }

    /// Whether a client of this server sent the request over its own session (not a hosted service, not a remote
    /// server): what changes the sender's own account requires it.
    public var isFromLocalSession: Bool { session != nil && kernel.isLocal(from) }
}

/// What an IQ handler answers: the payload of the `result` (or none), and work to do once the reply is sent.
public struct IQReply: Sendable {
    /// The `<iq type='result'/>` child, or `nil` for an empty result.
    public var payload: Element?
    /// Runs after the result has been handed to the session (closing sessions after account removal).
    public var afterReply: (@Sendable () -> Void)?

    /// Creates a reply.
    public init(_ payload: Element? = nil, afterReply: (@Sendable () -> Void)? = nil) {
        self.payload = payload
        self.afterReply = afterReply
    }
}

/// Handles an IQ request: returns the reply, or throws a ``StanzaError`` (any other error becomes
/// `internal-server-error`).
public typealias IQHandler = @Sendable (IQRequest) async throws -> IQReply

/// An IQ sent before authentication (in-band registration), with what is known of the connection.
public struct PreAuthenticationRequest: Sendable {
    /// The request.
    public var iq: IQ
    /// The peer's address as per-address limits count it (an IPv6 prefix as one address), for rate limits.
    public var remoteAddress: String
    /// The domain the stream is for.
    public var domain: String
    /// The kernel.
    public var kernel: ServerKernel
}

/// Handles an IQ before authentication; returns the result payload or throws a ``StanzaError``.
public typealias PreAuthenticationIQHandler = @Sendable (PreAuthenticationRequest) async throws -> Element?

/// Runs when a session sends its initial available presence (offline delivery, pending requests).
public typealias SessionHook = @Sendable (any ClientSession, ServerKernel) async -> Void

/// What modules register with, during kernel construction only. The registration methods for hooks are
/// beside their hook types (Hooks/).
public final class ModuleHost {
    var iqHandlers: [IQTarget: [String: IQHandler]] = [:]
    var preAuthenticationHandlers: [String: PreAuthenticationIQHandler] = [:]
    var hooks = KernelHooks()
    var services: [String: any HostedService] = [:]
    var remoteRouter: (any RemoteRouter)?
    var clusterLink: (any ClusterLink)?
    var serverIdentities: [DiscoIdentity] = []
    /// The module being activated, for error messages.
    var activeModule = ""
    var serverFeatures: Set<String> = []
    var serverInfoForms: [DataForm] = []
    var accountFeatures: Set<String> = []
    var accountIdentities: [DiscoIdentity] = []
    var preAuthenticationFeatures: [Element] = []
    var postAuthenticationFeatures: [Element] = []
    /// The kernel's configuration, for modules that read options.
    public let configuration: KernelConfiguration

    init(configuration: KernelConfiguration) {
        self.configuration = configuration
    }

    /// Handles IQ requests whose payload is in `namespace`, addressed to `targets`.
    public func handleIQ(_ namespace: String, for targets: Set<IQTarget>, _ handler: @escaping IQHandler) {
        for target in targets {
            precondition(iqHandlers[target]?[namespace] == nil, "two modules handle \(namespace) for \(target)")
            iqHandlers[target, default: [:]][namespace] = handler
        }
    }

    /// Handles IQ requests in `namespace` before authentication.
    public func handlePreAuthenticationIQ(_ namespace: String, _ handler: @escaping PreAuthenticationIQHandler) {
        preAuthenticationHandlers[namespace] = handler
    }

    /// Routes every stanza addressed to `service`'s domain (or an entity on it) to the service.
    public func addService(_ service: any HostedService) {
        precondition(services[service.domain] == nil && service.domain != configuration.domain,
                     "two services for \(service.domain)")
        services[service.domain] = service
    }

    /// Runs `hook` when a session sends initial presence.
    public func onInitialPresence(priority: HookPriority = .normal, _ hook: @escaping SessionHook) {
        hooks.initialPresence.add(hook, priority: priority)
    }

    /// Adds a disco identity of the server (XEP-0030 `disco#info` to the domain).
    public func addServerIdentity(_ identity: DiscoIdentity) {
        serverIdentities.append(identity)
    }

    /// Adds an extended information form (XEP-0128) to the server's disco#info (contact addresses, XEP-0157), counted
    /// in its capabilities hash.
    public func addServerInfoForm(_ form: DataForm) {
        serverInfoForms.append(form)
    }

    /// Advertises a disco feature for the server (XEP-0030 `disco#info` to the domain).
    public func addServerFeature(_ feature: String) {
        serverFeatures.insert(feature)
    }

    /// Advertises a disco feature for accounts (`disco#info` to a bare JID).
    public func addAccountFeature(_ feature: String) {
        accountFeatures.insert(feature)
    }

    /// Offers a stream feature before authentication.
    public func addPreAuthenticationFeature(_ feature: Element) {
        preAuthenticationFeatures.append(feature)
    }

    /// Offers a stream feature after authentication.
    public func addPostAuthenticationFeature(_ feature: Element) {
        postAuthenticationFeatures.append(feature)
    }
}
