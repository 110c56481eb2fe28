import Foundation

/// A value shared between threads, guarded by a lock. (`Mutex` needs macOS 15, and this target does not depend on
/// NIOConcurrencyHelpers, so Foundation's `NSLock`.)
final class LockedState<Value>: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) {
        self.value = value
    }

    /// Runs `body` with the value to itself; not re-entrant.
    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
