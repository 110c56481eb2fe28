import Atomics
import XMPPCore

/// What the filters consult on the routing path: the non-empty blocklists of online accounts (and of some
/// offline ones), by account, and which accounts have a stored list at all.
///
/// Most accounts block nobody, and most stanzas are between such accounts: the filters first read one atomic
/// counter of cached non-empty lists, and do nothing more while it is zero. Empty lists are never cached (an
/// account without an entry blocks nobody), and a login reads storage only for an account the index says has a
/// list. Lists of accounts with online sessions, and lists loaded within the last ``grace`` (a session about to
/// bind), are never evicted; the others are, oldest first, once the cache holds noticeably more than `capacity`.
///
/// Split in shards by account so that filtering for different accounts never contends for one lock.
final class BlocklistCache: Sendable {
    private struct Entry {
        var list: Blocklist
        var loadedAt: ContinuousClock.Instant
    }

    private final class Shard: Sendable {
        let entries = Locked<[String: Entry]>([:])
    }

    private let shards: [Shard] = (0..<16).map { _ in Shard() }
    private let count = ManagedAtomic<Int>(0)
    /// Accounts with a stored non-empty list; `nil` until read from storage (or when it could not be).
    private let index = Locked<Set<String>?>(nil)
    private let indexLoading = Locked<Task<Void, Never>?>(nil)
    /// How many lists of offline accounts may stay.
    let capacity: Int
    /// How long a freshly loaded list is kept whatever happens (the session that loaded it is about to bind).
    let grace: Duration

    init(capacity: Int, grace: Duration = .seconds(60)) {
        self.capacity = capacity
        self.grace = grace
    }

    private func shard(_ user: String) -> Shard {
        shards[Int(UInt(bitPattern: user.hashValue) % UInt(shards.count))]
    }

    /// Whether any non-empty list is cached: while not, nobody online blocks anybody.
    var isEmpty: Bool { count.load(ordering: .relaxed) == 0 }

    /// The account's list if it is cached (an account blocking nobody has none).
    func list(of user: String) -> Blocklist? {
        shard(user).entries.withLock { $0[user]?.list }
    }

    // MARK: The index of accounts with a list

    /// Sets the index of accounts with a stored list (read once from storage).
    func setIndex(_ users: Set<String>) {
        index.withLock { index in if index == nil { index = users } }
    }

    /// Whether storage may hold a list for the account: `false` only when the index says it does not.
    func mayHaveStoredList(_ user: String) -> Bool {
        index.withLock { $0?.contains(user) ?? true }
    }

    /// Reads the index with `read` the first time (every caller waits for that one read); later calls return at
    /// once. When `read` fails (`nil`), the index stays unknown and every load reads storage.
    func ensureIndex(_ read: @escaping @Sendable () async -> Set<String>?) async {
        let task = indexLoading.withLock { task in
            if let task { return task }
            let started = Task { if let users = await read() { self.setIndex(users) } }
            task = started
            return started
        }
        await task.value
    }

    // MARK: Changes

    /// Stores a list read from storage, unless one is there already (an edit made meanwhile is newer than what a
    /// slower load read).
    func storeLoaded(_ list: Blocklist, of user: String) {
        guard !list.isEmpty else { return }
        store(list, of: user, replacing: false)
    }

    /// Stores the account's list after the user changed it (an empty one removes the entry).
    func storeEdited(_ list: Blocklist, of user: String) {
        index.withLock { index in
            if list.isEmpty { index?.remove(user) } else { index?.insert(user) }
        }
        if list.isEmpty { forgetCached(user) } else { store(list, of: user, replacing: true) }
    }

    private func store(_ list: Blocklist, of user: String, replacing: Bool) {
        let now = ContinuousClock.now
        let added = shard(user).entries.withLock { entries -> Bool in
            if let existing = entries[user] {
                if replacing { entries[user] = Entry(list: list, loadedAt: existing.loadedAt) }
                return false
            }
            entries[user] = Entry(list: list, loadedAt: now)
            return true
        }
        if added { count.wrappingIncrement(ordering: .relaxed) }
    }

    /// Forgets the cached list of an account whose list another cluster node changed: the next stanza reads it again.
    func changedElsewhere(_ user: String) {
        index.withLock { _ = $0?.insert(user) }
        forgetCached(user)
    }

    /// Forgets the account entirely (account deleted).
    func forget(_ user: String) {
        index.withLock { _ = $0?.remove(user) }
        forgetCached(user)
    }

    private func forgetCached(_ user: String) {
        if shard(user).entries.withLock({ $0.removeValue(forKey: user) }) != nil { count.wrappingDecrement(ordering: .relaxed) }
    }

    /// Evicts the oldest lists of offline accounts (as `isOnline` says) loaded longer than ``grace`` ago, until at most
    /// `capacity` remain or only kept ones do. Does nothing until the cache is an eighth over capacity, so the scan
    /// runs once per many loads.
    func trim(isOnline: (String) -> Bool) {
        let excess = count.load(ordering: .relaxed) - capacity
        guard excess > max(16, capacity / 8) else { return }
        let cutoff = ContinuousClock.now - grace
        var candidates: [(user: String, loadedAt: ContinuousClock.Instant)] = []
        for shard in shards {
            shard.entries.withLock { entries in
                for (user, entry) in entries where entry.loadedAt < cutoff { candidates.append((user, entry.loadedAt)) }
            }
        }
        var evicted = 0
        for candidate in candidates.sorted(by: { $0.loadedAt < $1.loadedAt }) where evicted < excess {
            guard !isOnline(candidate.user) else { continue }
            forgetCached(candidate.user)
            evicted += 1
        }
    }
}
