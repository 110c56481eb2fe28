import XMPPCore

/// A typed key for per-session data a module owns (whether the session asked for the blocklist, its CSI state):
/// the module keeps the key as a static constant, and the value lives in the session's registry entry, gone with it.
///
/// ```swift
/// static let wantsPushes = SessionKey<Bool>("blocking.wantsPushes")
/// kernel.setState(true, for: Self.wantsPushes, of: session)
/// ```
public final class SessionKey<Value: Sendable>: Sendable {
    /// A name for debugging; for a shared key, its name between cluster nodes.
    public let name: String
    /// Reads the value from its text form; set for keys shared with the other nodes of a cluster.
    let decode: (@Sendable (String) -> Value?)?

    /// Creates a key; each call makes a distinct key, whatever the name.
    public init(_ name: String) {
        self.name = name
        decode = nil
    }

    init(_ name: String, decode: @escaping @Sendable (String) -> Value?) {
        self.name = name
        self.decode = decode
    }

    /// Whether the value is shared with the other nodes of a cluster.
    var isShared: Bool { decode != nil }
}

extension SessionKey where Value: LosslessStringConvertible {
    /// A key whose value the other nodes of a cluster see too, for their mirror of the session (carbons enabled: a
    /// message routed on another node is copied to this session). `name` must be unique among shared keys.
    public static func shared(_ name: String) -> SessionKey<Value> {
        SessionKey(name, decode: { Value($0) })
    }
}

/// The module-owned values of one session, by key. Empty (and allocation-free) until a module stores something.
public struct SessionState: Sendable {
    private var values: [ObjectIdentifier: any Sendable] = [:]
    /// Shared values of a session on another cluster node, by key name, as text.
    private var sharedValues: [String: String] = [:]

    /// No values.
    public init() {}

    /// The value stored under `key`.
    public subscript<Value>(key: SessionKey<Value>) -> Value? {
        get {
            if let value = values[ObjectIdentifier(key)] as? Value { return value }
            guard let decode = key.decode, let text = sharedValues[key.name] else { return nil }
            return decode(text)
        }
        set { values[ObjectIdentifier(key)] = newValue }
    }

    /// Sets the text form of a shared key's value for a mirrored session of another node (``ClusterLink``).
    public mutating func setShared(_ name: String, to text: String?) {
        sharedValues[name] = text
    }

    /// The text forms of the shared values, by key name (for a node that joins later).
    public var sharedTexts: [String: String] { sharedValues }
}

extension ServerKernel {
    /// The value a module stored for `session` under `key`, if the session is still registered.
    public func state<Value>(_ key: SessionKey<Value>, of session: any ClientSession) -> Value? {
        registry.entry(session.jid).flatMap { $0.session === session ? $0.state[key] : nil }
    }

    /// Stores (or, with `nil`, removes) a module's value for `session`, if it is still registered.
    public func setState<Value>(_ value: Value?, for key: SessionKey<Value>, of session: any ClientSession) {
        registry.update(session) { entry in
            entry.state[key] = value
            if key.isShared { entry.state.setShared(key.name, to: value.map { "\($0)" }) }
        }
        if key.isShared, session.clusterNode == nil {
            clusterLink?.sharedStateChanged(of: session, key: key.name, value: value.map { "\($0)" })
        }
    }
}
