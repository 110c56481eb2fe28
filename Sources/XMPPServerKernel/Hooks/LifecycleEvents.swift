import NIOCore
import XMPPCore

/// Why a session ended.
public enum SessionEndReason: Sendable, Hashable {
    /// The client closed its stream, or the connection dropped.
    case disconnected
    /// The server closed the stream with this error (`conflict` when replaced, `system-shutdown`, a policy limit...).
    case closedByServer(StreamError.Condition)
}

/// Runs when a session is about to be registered under its resource (before ``ServerKernel/bind(_:)``, so per-session
/// state cannot be set yet): modules load per-account data the session's routing needs (a blocklist). The client is
/// told its resource, and its next stanzas are read, once every such hook is done.
public typealias SessionBoundHook = @Sendable (any ClientSession, ServerKernel) async -> Void
/// Runs after a session left the registry, once its unavailable presence went out. `remainingSessions` is how
/// many of the account's sessions are still online.
public typealias SessionEndedHook = @Sendable (_ session: any ClientSession, _ reason: SessionEndReason,
                                               _ remainingSessions: Int, ServerKernel) async -> Void
/// Runs after a listed roster item of `account` changed (`item` is the `<item/>` of a push, possibly
/// `subscription='remove'`; `version` the roster's new version). Runs where the change was made; must not block.
public typealias RosterChangedHook = @Sendable (_ account: JID, _ item: Element, _ version: Int, ServerKernel) -> Void
/// Runs for an account event (`username` is the localpart).
public typealias AccountHook = @Sendable (_ username: String, ServerKernel) async throws -> Void

extension ModuleHost {
    /// Runs `hook` when a session binds its resource (before the bind result is sent).
    public func onSessionBound(priority: HookPriority = .normal, _ hook: @escaping SessionBoundHook) {
        hooks.sessionBound.add(hook, priority: priority)
    }

    /// Runs `hook` when a session ends. Stream management will add detached and resumed sessions beside it.
    public func onSessionEnded(priority: HookPriority = .normal, _ hook: @escaping SessionEndedHook) {
        hooks.sessionEnded.add(hook, priority: priority)
    }

    /// Runs `hook` after a listed roster item changed or was removed (roster pushes, RFC 6121 §2.1.6).
    public func onRosterChanged(priority: HookPriority = .normal, _ hook: @escaping RosterChangedHook) {
        hooks.rosterChanged.add(hook, priority: priority)
    }

    /// Runs `hook` after an account was created (in-band registration or the administrator).
    public func onAccountCreated(priority: HookPriority = .normal, _ hook: @escaping AccountHook) {
        hooks.accountCreated.add(hook, priority: priority)
    }

    /// Runs `hook` after an account's password changed.
    public func onPasswordChanged(priority: HookPriority = .normal, _ hook: @escaping AccountHook) {
        hooks.passwordChanged.add(hook, priority: priority)
    }

    /// Runs `hook` when an account is being deleted, before its credentials go (its sessions, if any, are closed by
    /// the caller afterwards): every module removes its own data for the account here. A hook that throws stops the
    /// deletion, which can then be retried (the account still exists).
    public func onAccountDeleted(priority: HookPriority = .normal, _ hook: @escaping AccountHook) {
        hooks.accountDeleted.add(hook, priority: priority)
    }
}

// Account lifecycle: every path that creates, changes or deletes an account goes through here, so modules hear of it.
extension ServerKernel {
    /// Creates an account with SCRAM credentials for `password`; `false` when the name is taken.
    public func createAccount(_ username: String, password: String) async throws -> Bool {
        try await createAccount(username, credentials: SCRAMCredentials.allHashes(password: password))
    }

    /// Creates an account with the given credentials; `false` when the name is taken.
    public func createAccount(_ username: String, credentials: [SCRAMCredentials]) async throws -> Bool {
        guard try await storage.accounts.createAccount(username, credentials: credentials) else { return false }
        for hook in hooks.accountCreated.hooks { try await hook(username, self) }
        return true
    }

    /// Replaces an account's password; `false` when there is no such account.
    public func changePassword(of username: String, to password: String) async throws -> Bool {
        guard try await storage.accounts.setCredentials(SCRAMCredentials.allHashes(password: password), of: username) else {
            return false
        }
        for hook in hooks.passwordChanged.hooks { try await hook(username, self) }
        return true
    }

    /// Deletes an account: every module removes its data (contacts are told, rooms forget the account), then the
    /// credentials go. `false` when there was no such account. The account's sessions stay open: the caller closes
    /// them (after its reply, for in-band cancellation).
    public func deleteAccount(_ username: String) async throws -> Bool {
        guard try await storage.accounts.accountExists(username) else { return false }
        // While the hooks run, no new session binds and nothing is stored for the account.
        accountsBeingDeleted.withLock { _ = $0.insert(username) }
        defer { accountsBeingDeleted.withLock { _ = $0.remove(username) } }
        for hook in hooks.accountDeleted.hooks { try await hook(username, self) }
        let deleted = try await storage.accounts.deleteAccount(username)
        // A last sweep of the shapes every account has, for whatever was written while the hooks ran or by a module
        // that is no longer loaded: nothing of the account may reach whoever registers the name next.
        try await storage.offline.removeAll(for: username)
        try await storage.userData.removeAll(of: username)
        _ = disabledAccounts.withLock { $0?.remove(username) }   // whoever registers the name next is not disabled
        try await storage.rosters.removeRoster(of: username)
        recentlyDeletedAccounts.withLock { _ = $0.insert(username) }
        Task {
            try? await Task.sleep(for: .seconds(60))
            _ = self.recentlyDeletedAccounts.withLock { $0.remove(username) }
        }
        return deleted
    }

    /// Whether the account was deleted within the last minute or is being deleted: its sessions may still be
    /// ending, and nothing should be stored for it any more.
    public func isGone(_ username: String) -> Bool {
        isBeingDeleted(username) || recentlyDeletedAccounts.withLock { $0.contains(username) }
    }

    /// Whether the account's deletion is under way.
    public func isBeingDeleted(_ username: String) -> Bool {
        accountsBeingDeleted.withLock { $0.contains(username) }
    }
}

extension ServerKernel {
    /// Runs the session-bound hooks; `nil` when there are none.
    func runSessionBoundHooks(_ session: any ClientSession) -> EventLoopFuture<Void>? {
        guard !hooks.sessionBound.isEmpty else { return nil }
        return run(on: session.eventLoop) {
            for hook in self.hooks.sessionBound.hooks { await hook(session, self) }
        }
    }
}
