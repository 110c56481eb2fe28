import Synchronization
import XMPPCore

/// The blocklists the filters consult on the routing path, by account. An account's list is loaded when one of
/// its sessions binds, or before a stanza reaches it while offline; lists of accounts with online sessions are
/// never evicted, the others are once more than `capacity` accounts are held (oldest loaded first).
///
/// Split in shards by account so that filtering for different accounts never contends for one lock; a lookup
/// holds its shard's lock for one dictionary read.
final class BlocklistCache: Sendable {
    private struct Entry {
        var list: Blocklist
        var loadedAt: UInt64
    }

    private final class Shard: Sendable {
        let entries = Mutex<[String: Entry]>([:])
    }

    private let shards: [Shard] = (0..<16).map { _ in Shard() }
    private let loads = Atomic<UInt64>(0)
    private let count = Atomic<Int>(0)
    let capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
    }

    private func shard(_ user: String) -> Shard {
        shards[Int(UInt(bitPattern: user.hashValue) % UInt(shards.count))]
    }

    /// The account's list if it is loaded.
    func list(of user: String) -> Blocklist? {
        shard(user).entries.withLock { $0[user]?.list }
    }

    /// Stores `list` as the account's current list (after loading it, or after the user changed it).
    func store(_ list: Blocklist, of user: String) {
        let order = loads.add(1, ordering: .relaxed).newValue
        let added = shard(user).entries.withLock { entries in
            defer { entries[user] = Entry(list: list, loadedAt: order) }
            return entries[user] == nil
        }
        if added { count.add(1, ordering: .relaxed) }
    }

    /// Forgets the account's list (account deleted).
    func forget(_ user: String) {
        if shard(user).entries.withLock({ $0.removeValue(forKey: user) }) != nil { count.subtract(1, ordering: .relaxed) }
    }

    /// Evicts the oldest lists of accounts `isOnline` says are offline until at most `capacity` remain (or only
    /// online accounts do). Called after loads, off the routing path.
    func trim(isOnline: (String) -> Bool) {
        let excess = count.load(ordering: .relaxed) - capacity
        guard excess > 0 else { return }
        var candidates: [(user: String, loadedAt: UInt64)] = []
        for shard in shards {
            shard.entries.withLock { entries in
                for (user, entry) in entries { candidates.append((user, entry.loadedAt)) }
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
