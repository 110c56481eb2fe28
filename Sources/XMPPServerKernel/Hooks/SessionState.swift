import XMPPCore

/// A typed key for per-session data a module owns (whether the session asked for the blocklist, its CSI state):
/// the module keeps the key as a static constant, and the value lives in the session's registry entry, gone with it.
///
/// ```swift
/// static let wantsPushes = SessionKey<Bool>("blocking.wantsPushes")
/// kernel.setState(true, for: Self.wantsPushes, of: session)
/// ```
public final class SessionKey<Value: Sendable>: Sendable {
    /// A name for debugging.
    public let name: String

    /// Creates a key; each call makes a distinct key, whatever the name.
    public init(_ name: String) { self.name = name }
}

/// The module-owned values of one session, by key. Empty (and allocation-free) until a module stores something.
public struct SessionState: Sendable {
    private var values: [ObjectIdentifier: any Sendable] = [:]

    /// No values.
    public init() {}

    /// The value stored under `key`.
    public subscript<Value>(key: SessionKey<Value>) -> Value? {
        get { values[ObjectIdentifier(key)] as? Value }
        set { values[ObjectIdentifier(key)] = newValue }
    }
}

extension ServerKernel {
    /// The value a module stored for `session` under `key`, if the session is still registered.
    public func state<Value>(_ key: SessionKey<Value>, of session: any ClientSession) -> Value? {
        registry.entry(session.jid).flatMap { $0.session === session ? $0.state[key] : nil }
    }

    /// Stores (or, with `nil`, removes) a module's value for `session`, if it is still registered.
    public func setState<Value>(_ value: Value?, for key: SessionKey<Value>, of session: any ClientSession) {
        registry.update(session) { $0.state[key] = value }
    }
}
