import NIOConcurrencyHelpers

/// A value that threads share, guarded by a lock: the same `withLock` as the standard library's `Mutex`, which this
/// package does not use because it needs macOS 15 and iOS 18. A reference type, so it is kept in a `let`
/// and shared like `Mutex` is.
///
/// ```swift
/// let counts = Locked([String: Int]())
/// counts.withLock { $0["alice", default: 0] += 1 }
/// ```
public final class Locked<Value>: @unchecked Sendable {
    @usableFromInline let lock = NIOLock()
    @usableFromInline var value: Value

    /// Creates a lock guarding `initialValue`.
    @inlinable
    public init(_ initialValue: Value) {
        value = initialValue
    }

    /// Runs `body` with exclusive access to the value, and returns what it returns. Do not call `withLock` on the same
    /// `Locked` from inside `body`: the lock is not recursive.
    @inlinable
    public func withLock<Result, Failure: Error>(_ body: (inout Value) throws(Failure) -> Result) throws(Failure) -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
