import XMPPCore

/// Every online resource of every local account, with the presence state the router needs.
///
/// The table is split into shards by bare JID so that sessions of different accounts never contend for the
/// same lock; each operation holds one shard's lock for a dictionary lookup and nothing else.
public final class SessionRegistry: Sendable {
    /// What the registry knows about one session.
    public struct Entry: Sendable {
        /// The session.
        public let session: any ClientSession
        /// The last available presence the client broadcast, with `from` stamped; `nil` before initial presence
        /// or after unavailable.
        public var presence: Element?
        /// The priority of ``presence`` (RFC 6121 §4.7.2.3).
        public var priority: Int
        /// JIDs the client sent directed presence to, to be told when it goes offline (RFC 6121 §4.6).
        public var directedPresence: Set<JID>
        /// What modules keep for the session, by typed key (``SessionKey``).
        public var state = SessionState()

        /// Whether the session has sent available presence.
        public var isAvailable: Bool { presence != nil }
    }

    private final class Shard: Sendable {
        let accounts = Locked<[JID: [String: Entry]]>([:])
    }

    private let shards: [Shard]

    /// Creates a registry with `shardCount` shards.
    public init(shardCount: Int = 16) {
        shards = (0..<max(1, shardCount)).map { _ in Shard() }
    }

    private func shard(for bare: JID) -> Shard {
        shards[Int(UInt(bitPattern: bare.hashValue) % UInt(shards.count))]
    }

    /// Adds a bound session. A session already bound to the same full JID is returned so the caller can close
    /// it with `conflict` (RFC 6120 §7.7.2.2, the newer session wins).
    public func add(_ session: any ClientSession) -> (any ClientSession)? {
        let jid = session.jid
        guard let resource = jid.resourcepart else { return nil }
        return shard(for: jid.bare).accounts.withLock { accounts in
            let previous = accounts[jid.bare]?[resource]?.session
            accounts[jid.bare, default: [:]][resource] = Entry(session: session, presence: nil, priority: 0,
                                                              directedPresence: [])
            return previous
        }
    }

    /// Removes a session, if it is still the one registered under its JID; returns its last entry.
    @discardableResult
    public func remove(_ session: any ClientSession) -> Entry? {
        let jid = session.jid
        guard let resource = jid.resourcepart else { return nil }
        return shard(for: jid.bare).accounts.withLock { accounts in
            guard let entry = accounts[jid.bare]?[resource], entry.session === session else { return nil }
            accounts[jid.bare]?[resource] = nil
            if accounts[jid.bare]?.isEmpty == true { accounts[jid.bare] = nil }
            return entry
        }
    }

    /// Puts `successor` in the place of `session` (a stream resumed on a new connection), keeping the entry:
    /// presence, directed presence and module state. `false` when `session` is no longer registered.
    public func replace(_ session: any ClientSession, with successor: any ClientSession) -> Bool {
        let jid = session.jid
        guard let resource = jid.resourcepart, successor.jid == jid else { return false }
        return shard(for: jid.bare).accounts.withLock { accounts in
            guard var entry = accounts[jid.bare]?[resource], entry.session === session else { return false }
            entry = Entry(session: successor, presence: entry.presence, priority: entry.priority,
                          directedPresence: entry.directedPresence, state: entry.state)
            accounts[jid.bare]![resource] = entry
            return true
        }
    }

    /// The entry of one full JID.
    public func entry(_ jid: JID) -> Entry? {
        guard let resource = jid.resourcepart else { return nil }
        return shard(for: jid.bare).accounts.withLock { $0[jid.bare]?[resource] }
    }

    /// Every session of an account.
    public func entries(of bare: JID) -> [Entry] {
        shard(for: bare.bare).accounts.withLock { accounts in
            accounts[bare.bare].map { Array($0.values) } ?? []
        }
    }

    /// How many resources an account has online.
    public func sessionCount(of bare: JID) -> Int {
        shard(for: bare.bare).accounts.withLock { $0[bare.bare]?.count ?? 0 }
    }

    /// Edits a session's entry in place, if the session is still registered; returns the closure's result.
    @discardableResult
    public func update<Result>(_ session: any ClientSession, _ body: (inout Entry) -> Result) -> Result? {
        let jid = session.jid
        guard let resource = jid.resourcepart else { return nil }
        return shard(for: jid.bare).accounts.withLock { accounts in
            guard accounts[jid.bare]?[resource]?.session === session else { return nil }
            return body(&accounts[jid.bare]![resource]!)
        }
    }

    /// Every session on the server (for administration and shutdown).
    public func allSessions() -> [any ClientSession] {
        shards.flatMap { shard in shard.accounts.withLock { $0.values.flatMap { $0.values.map(\.session) } } }
    }

    /// How many sessions are online.
    public var count: Int {
        shards.reduce(0) { total, shard in total + shard.accounts.withLock { $0.values.reduce(0) { $0 + $1.count } } }
    }
}
