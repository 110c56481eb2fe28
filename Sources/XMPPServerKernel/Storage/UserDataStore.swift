/// Per-user key-value storage for small documents: the vCard, last activity, and whatever a module keeps
/// per account. Keys are namespaced by the module (`vcard`, `last`, ...).
public protocol UserDataStore: Sendable {
    /// The value under `key`, or `nil`.
    func value(_ key: String, of user: String) async throws -> [UInt8]?
    /// Stores `value` under `key`, or removes the key for `nil`.
    func setValue(_ value: [UInt8]?, for key: String, of user: String) async throws
    /// Removes every key of the user (account deletion).
    func removeAll(of user: String) async throws
    /// Every user holding a value under `key`, sorted (a module's index of who uses it at all).
    func users(withKey key: String) async throws -> [String]
}
