import XMPPCore

/// Where accounts and their SCRAM credentials live. Passwords are never stored: each account keeps the
/// salted keys of RFC 5802 for every hash the server offers.
public protocol AccountStore: Sendable {
    /// Creates an account; returns `false` (and changes nothing) when the username is taken.
    func createAccount(_ username: String, credentials: [SCRAMCredentials]) async throws -> Bool
    /// The account's credentials for `hash`, or `nil` when the account does not exist.
    func credentials(of username: String, hash: SCRAMHash) async throws -> SCRAMCredentials?
    /// Replaces the account's credentials (a password change); returns `false` when there is no such account.
    func setCredentials(_ credentials: [SCRAMCredentials], of username: String) async throws -> Bool
    /// Whether the account exists.
    func accountExists(_ username: String) async throws -> Bool
    /// Deletes the account's credentials; returns `false` when there was no such account.
    func deleteAccount(_ username: String) async throws -> Bool
    /// All usernames, sorted.
    func usernames() async throws -> [String]
}

extension SCRAMCredentials {
    /// The credentials an account stores for `password`: one set per SCRAM hash, each with its own salt.
    public static func allHashes(password: String, iterations: Int = 4096) -> [SCRAMCredentials] {
        SCRAMHash.allCases.map { SCRAMCredentials.derive(password: password, hash: $0, iterations: iterations) }
    }
}
