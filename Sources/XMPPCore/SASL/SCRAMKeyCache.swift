/// Remembers the keys a SCRAM client derived from a password, salt and iteration count, so that logging in
/// again to the same account skips the deliberately slow PBKDF2 step (RFC 5802 §5.1 lets a client cache them).
///
/// Share one cache between the connections of an application, or of a load generator that logs the same
/// accounts in many times. Entries live as long as the cache; it holds at most ``capacity`` of them and
/// forgets everything when full.
public final class SCRAMKeyCache: Sendable {
    struct Key: Hashable {
        var hash: SCRAMHash
        var password: String
        var salt: [UInt8]
        var iterations: Int
    }

    typealias Keys = (clientKey: [UInt8], storedKey: [UInt8], serverKey: [UInt8])

    /// The most entries kept at once.
    public let capacity: Int
    private let entries = Locked<[Key: Keys]>([:])

    /// Creates an empty cache holding up to `capacity` entries.
    public init(capacity: Int = 100_000) {
        self.capacity = capacity
    }

    /// How many entries the cache holds.
    public var count: Int { entries.withLock { $0.count } }

    func keys(_ hash: SCRAMHash, password: String, salt: [UInt8], iterations: Int) -> Keys {
        let key = Key(hash: hash, password: password, salt: salt, iterations: iterations)
        if let known = entries.withLock({ $0[key] }) { return known }
        // Derived outside the lock: two connections racing on a new account both derive, which is harmless.
        let derived = hash.keys(password: password, salt: salt, iterations: iterations)
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = derived
        }
        return derived
    }
}
