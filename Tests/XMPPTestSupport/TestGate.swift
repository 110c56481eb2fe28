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
    private let limit: Int
    private let state: Locked<(free: Int, waiting: [(places: Int, continuation: CheckedContinuation<Void, Never>)])>

    /// A gate with `limit` places.
    public init(limit: Int) {
        self.limit = max(1, limit)
        state = Locked((max(1, limit), []))
    }

    /// Runs `body` once `places` places are free (at once when the task already holds one). A scenario as heavy as
    /// several (three server processes and their clients) takes several, up to all of them: it then runs alone among
    /// the gated scenarios. Lighter bodies are not held up behind it (a whole suite queued behind a big request would
    /// starve its timed tests): it runs when enough places are free at once, at the latest when the others are done.
    public func run<Result>(places: Int = 1, _ body: () async throws -> Result) async throws -> Result {
        let me = ObjectIdentifier(self)
        if Self.held.contains(me) { return try await body() }
        let places = min(max(1, places), limit)
        await enter(places)
        defer { leave(places) }
        return try await Self.$held.withValue(Self.held.union([me])) { try await body() }
    }

    private func enter(_ places: Int) async {
        await withCheckedContinuation { continuation in
            let admitted = state.withLock { state -> Bool in
                guard state.free >= places else {
                    state.waiting.append((places, continuation))
                    return false
                }
                state.free -= places
                return true
            }
            if admitted { continuation.resume() }
        }
    }

    private func leave(_ places: Int) {
        let admitted = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.free += places
            var admitted: [CheckedContinuation<Void, Never>] = []
            // In the order asked, each that fits now.
            state.waiting.removeAll { waiter in
                guard state.free >= waiter.places else { return false }
                state.free -= waiter.places
                admitted.append(waiter.continuation)
                return true
            }
            return admitted
        }
        for continuation in admitted { continuation.resume() }
    }

    /// Places free now (for the gate's own test).
    public var freePlaces: Int { state.withLock { $0.free } }
    /// Bodies waiting for places now (for the gate's own test).
    public var waitingBodies: Int { state.withLock { $0.waiting.count } }
}
