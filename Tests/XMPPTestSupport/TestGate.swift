import XMPPCore

/// Lets at most `limit` whole-server scenarios (a server, several clients, maybe helper processes) run at once.
/// Swift Testing starts every test together; on a two-core machine the first seconds of the full suite then starve
/// logins past their timeouts. Scenarios queue here instead. A scenario inside another's place in the same gate
/// (Prosody started by `ServerPeer.run`) does not take a second place.
public final class TestGate: Sendable {
    /// The gate for scenarios against a whole server (xmppd in-process, or Prosody).
    public static let servers = TestGate(limit: 4)
    /// One ejabberd at a time: they share the machine's Erlang port mapper, which each start and stop checks.
    public static let ejabberd = TestGate(limit: 1)

    /// The gates the current task holds a place in.
    @TaskLocal private static var held: Set<ObjectIdentifier> = []
    private let state: Locked<(free: Int, waiting: [CheckedContinuation<Void, Never>])>

    /// A gate with `limit` places.
    public init(limit: Int) {
        state = Locked((max(1, limit), []))
    }

    /// Runs `body` once a place is free (at once when the task already holds one).
    public func run<Result>(_ body: () async throws -> Result) async throws -> Result {
        let me = ObjectIdentifier(self)
        if Self.held.contains(me) { return try await body() }
        await enter()
        defer { leave() }
        return try await Self.$held.withValue(Self.held.union([me])) { try await body() }
    }

    private func enter() async {
        await withCheckedContinuation { continuation in
            let admitted = state.withLock { state -> Bool in
                guard state.free > 0 else {
                    state.waiting.append(continuation)
                    return false
                }
                state.free -= 1
                return true
            }
            if admitted { continuation.resume() }
        }
    }

    private func leave() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            if state.waiting.isEmpty {
                state.free += 1
                return nil
            }
            return state.waiting.removeFirst()
        }
        next?.resume()
    }

    /// Places free now (for the gate's own test).
    public var freePlaces: Int { state.withLock { $0.free } }
}
