import Foundation
import Logging
import XMPPCore

// Disabled accounts (XEP-0133 disable-user): the account and its data stay, but nobody logs in to it (SASL
// `account-disabled`, RFC 6120 §6.5.1) until an administrator enables it again.
extension ServerKernel {
    /// The per-user document that marks a disabled account (its value is the reason, possibly empty).
    static let disabledKey = "account.disabled"

    /// Whether `username`'s account is disabled. A storage failure counts as not disabled (and is logged): the
    /// login path must not lock everybody out when storage has a hiccup.
    public func isDisabled(_ username: String) async -> Bool {
        if let known = isDisabledNow(username) { return known }
        do {
            let disabled = Set(try await storage.userData.users(withKey: Self.disabledKey))
            disabledAccounts.withLock { $0 = $0 ?? disabled }
            return disabled.contains(username)
        } catch {
            logger.error("disabled-account lookup failed", metadata: ["user": "\(username)", "error": "\(error)"])
            return false
        }
    }

    /// Whether `username`'s account is disabled, from memory; nil until the disabled accounts were read once.
    public func isDisabledNow(_ username: String) -> Bool? {
        disabledAccounts.withLock { $0.map { $0.contains(username) } }
    }

    /// Disables or enables `username`'s account; disabling ends its sessions. `false` when there is no such account.
    public func setDisabled(_ username: String, _ disabled: Bool, reason: String? = nil) async throws -> Bool {
        guard try await storage.accounts.accountExists(username) else { return false }
        _ = await isDisabled(username)   // the set is in memory before it changes
        try await storage.userData.setValue(disabled ? Array((reason ?? "").utf8) : nil, for: Self.disabledKey, of: username)
        disabledAccounts.withLock { set in
            if disabled { set?.insert(username) } else { set?.remove(username) }
        }
        if disabled, let jid = try? JID(localpart: username, domainpart: configuration.domain) {
            closeSessions(of: jid, with: StreamError(.notAuthorized, text: "the account was disabled"))
        }
        return true
    }
}
