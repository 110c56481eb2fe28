import Synchronization
import XMPPCore

/// The blocklists the filters consult on the routing path, by account. An account's list is loaded when one of
/// its sessions binds, or before a stanza reaches it while offline. Lists of accounts with online sessions, and
/// lists loaded within the last ``grace`` (a session about to bind), are never evicted; the others are, oldest
/// first, once the cache holds noticeably more than `capacity` accounts.
///
/// Split in shards by account so that filtering for different accounts never contends for one lock; a lookup
/// holds its shard's lock for one dictionary read.
final class BlocklistCache: Sendable {
    private struct Entry {
        var list: Blocklist
        var loadedAt: ContinuousClock.Instant
    }

    private final class Shard: Sendable {
        let entries = Mutex<[String: Entry]>([:])
    }

    private let shards: [Shard] = (0..<16).map { _ in Shard() }
    private let count = Atomic<Int>(0)
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

    /// The account's list if it is loaded.
    func list(of user: String) -> Blocklist? {
        shard(user).entries.withLock { $0[user]?.list }
    }

    /// Stores a list read from storage, unless one is there already (an edit made meanwhile is newer than what a
    /// slower load read).
    func storeLoaded(_ list: Blocklist, of user: String) {
        store(list, of: user, replacing: false)
    }

    /// Stores the account's list after the user changed it.
    func storeEdited(_ list: Blocklist, of user: String) {
        store(list, of: user, replacing: true)
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
        if added { count.add(1, ordering: .relaxed) }
    }

    /// Forgets the account's list (account deleted).
    func forget(_ user: String) {
        if shard(user).entries.withLock({ $0.removeValue(forKey: user) }) != nil { count.subtract(1, ordering: .relaxed) }
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
            forget(candidate.user)
            evicted += 1
        }
    }
}
