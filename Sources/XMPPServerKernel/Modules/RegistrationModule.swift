import Logging
import Foundation
import XMPPCore

/// In-band registration (XEP-0077): creating an account before authentication (when the policy allows),
/// changing the password and cancelling the account once logged in. Cancelling removes all of the
/// account's data and ends its sessions.
public struct RegistrationModule: ServerModule {
    public let name = "register"
    public let specifications = ["XEP-0077 2.4"]
    /// The `jabber:iq:register` namespace.
    public static let namespace = "jabber:iq:register"
    /// The stream feature announcing in-band registration.
    public static let streamFeature = Element("register", namespace: "http://jabber.org/features/iq-register")

    private let limiter = RegistrationLimiter()

    /// Creates the module.
    public init() {}

    public func activate(in host: ModuleHost) {
        let policy = host.configuration.registration
        if policy != .closed {
            host.addPreAuthenticationFeature(Self.streamFeature)
            host.handlePreAuthenticationIQ(Self.namespace) { request in
                try await self.register(request, policy: policy)
            }
        }
        host.handleIQ(Self.namespace, for: [.server, .ownAccount, .otherAccount]) { request in
            // Only a logged-in client manages its own account: never a remote server's user or a component, whose
            // localpart may well be a local account's name.
            guard request.isFromLocalSession, request.isFromOwner || request.to.localpart == nil else { throw StanzaError(.forbidden) }
            return try await self.manage(request)
        }
    }

    private func register(_ request: PreAuthenticationRequest, policy: RegistrationPolicy) async throws -> Element? {
        let query = request.iq.payload!
        if request.iq.type == .get {
            return Element("query", namespace: Self.namespace, children: [
                .element(Element("instructions", namespace: Self.namespace, text: "Choose a username and password.")),
                .element(Element("username", namespace: Self.namespace)),
                .element(Element("password", namespace: Self.namespace)),
            ])
        }
        guard let (username, password) = try Self.credentials(in: query, domain: request.domain) else {
            throw StanzaError(.notAcceptable, text: "a username and a password are required")
        }
        if case .limited(let count, let seconds) = policy,
           !limiter.admit(request.remoteAddress, count: count, within: TimeInterval(seconds)) {
            throw StanzaError(.policyViolation, type: .wait, text: "too many registrations from this address; try later")
        }
        // Counted by the limiter first (asking about names is an attempt too), then a taken name is refused before
        // any key derivation (three PBKDF2 runs).
        guard try await !request.kernel.storage.accounts.accountExists(username) else {
            throw StanzaError(.conflict, text: "the username is taken")
        }

        let created = try await request.kernel.createAccount(username, password: password)
        guard created else { throw StanzaError(.conflict, text: "the username is taken") }
        request.kernel.logger.info("account registered", metadata: ["user": "\(username)", "ip": "\(request.remoteAddress)"])
        return nil
    }

    private func manage(_ request: IQRequest) async throws -> IQReply {
        let kernel = request.kernel
        let user = request.senderUsername
        let query = request.payload
        if request.iq.type == .get {
            return IQReply(Element("query", namespace: Self.namespace, children: [
                .element(Element("registered", namespace: Self.namespace)),
                .element(Element("username", namespace: Self.namespace, text: user)),
            ]))
        }
        if query.child("remove", namespace: Self.namespace) != nil {
            _ = try await kernel.deleteAccount(user)
            kernel.logger.info("account cancelled", metadata: ["user": "\(user)"])
            let account = request.from.bare
            return IQReply(afterReply: {
                kernel.closeSessions(of: account, with: StreamError(.notAuthorized, text: "the account was removed"))
            })
        }
        guard let (username, password) = try Self.credentials(in: query, domain: kernel.configuration.domain) else {
            throw StanzaError(.badRequest, text: "a username and a password are required")
        }
        guard username == user else { throw StanzaError(.notAuthorized, text: "only your own password can be changed") }
        guard try await kernel.changePassword(of: user, to: password) else {
            throw StanzaError(.itemNotFound)
        }
        kernel.logger.info("password changed", metadata: ["user": "\(user)"])
        return IQReply()
    }

    /// The normalized username and the password of a registration form, `nil` when either is missing.
    static func credentials(in query: Element, domain: String) throws(StanzaError) -> (String, String)? {
        guard let rawUser = query.child("username", namespace: namespace)?.text, !rawUser.isEmpty,
              let password = query.child("password", namespace: namespace)?.text, !password.isEmpty else { return nil }
        guard let username = (try? JID(localpart: rawUser, domainpart: domain))?.localpart else {
            throw StanzaError(.jidMalformed, text: "the username is not a valid JID localpart")
        }
        guard password.utf8.count <= 1024 else { throw StanzaError(.notAcceptable, text: "the password is too long") }
        return (username, password)
    }
}

/// Counts registrations per IP address over a sliding window.
final class RegistrationLimiter: Sendable {
    private let history = Locked<[String: [Date]]>([:])

    /// Records a registration from `address` if fewer than `count` happened within the window.
    func admit(_ address: String, count: Int, within seconds: TimeInterval) -> Bool {
        let now = Date()
        return history.withLock { history in
            var recent = (history[address] ?? []).filter { now.timeIntervalSince($0) < seconds }
            guard recent.count < count else { history[address] = recent; return false }
            recent.append(now)
            history[address] = recent
            return true
        }
    }
}
