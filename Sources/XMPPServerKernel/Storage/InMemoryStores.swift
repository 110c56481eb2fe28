import XMPPCore

/// ``AccountStore`` in memory.
public final class InMemoryAccountStore: AccountStore {
    private let accounts = Locked<[String: [SCRAMHash: SCRAMCredentials]]>([:])

    /// Creates an empty store.
    public init() {}

    public func createAccount(_ username: String, credentials: [SCRAMCredentials]) async throws -> Bool {
        accounts.withLock { accounts in
            guard accounts[username] == nil else { return false }
            accounts[username] = Dictionary(credentials.map { ($0.hash, $0) }, uniquingKeysWith: { $1 })
            return true
        }
    }

    public func credentials(of username: String, hash: SCRAMHash) async throws -> SCRAMCredentials? {
        accounts.withLock { $0[username]?[hash] }
    }

    public func setCredentials(_ credentials: [SCRAMCredentials], of username: String) async throws -> Bool {
        accounts.withLock { accounts in
            guard accounts[username] != nil else { return false }
            accounts[username] = Dictionary(credentials.map { ($0.hash, $0) }, uniquingKeysWith: { $1 })
            return true
        }
    }

    public func accountExists(_ username: String) async throws -> Bool {
        accounts.withLock { $0[username] != nil }
    }

    public func deleteAccount(_ username: String) async throws -> Bool {
        accounts.withLock { $0.removeValue(forKey: username) != nil }
    }

    public func usernames() async throws -> [String] {
        accounts.withLock { $0.keys.sorted() }
    }
}

/// ``RosterStore`` in memory.
public final class InMemoryRosterStore: RosterStore {
    private let rosters = Locked<[String: StoredRoster]>([:])

    /// Creates an empty store.
    public init() {}

    public func roster(of user: String) async throws -> StoredRoster {
        rosters.withLock { $0[user] ?? StoredRoster(items: [], version: 0) }
    }

    public func item(_ contact: JID, of user: String) async throws -> RosterEntry? {
        rosters.withLock { $0[user]?.items.first { $0.jid == contact } }
    }

    public func setItem(_ item: RosterEntry, of user: String) async throws -> Int {
        rosters.withLock { rosters in
            var roster = rosters[user] ?? StoredRoster(items: [], version: 0)
            if let index = roster.items.firstIndex(where: { $0.jid == item.jid }) {
                roster.items[index] = item
            } else {
                roster.items.append(item)
            }
            roster.version += 1
            rosters[user] = roster
            return roster.version
        }
    }

    public func removeItem(_ contact: JID, of user: String) async throws -> Int {
        rosters.withLock { rosters in
            var roster = rosters[user] ?? StoredRoster(items: [], version: 0)
            roster.items.removeAll { $0.jid == contact }
            roster.version += 1
            rosters[user] = roster
            return roster.version
        }
    }

    public func removeRoster(of user: String) async throws {
        _ = rosters.withLock { $0.removeValue(forKey: user) }
    }
}

/// ``OfflineStore`` in memory.
public final class InMemoryOfflineStore: OfflineStore {
    private struct Queue {
        var messages: [OfflineMessage] = []
        var bytes = 0
    }

    private let queues = Locked<[String: Queue]>([:])
    private let nextID = Locked<Int64>(1)

    /// Creates an empty store.
    public init() {}

    public var queueFigures: (accounts: Int, messages: Int)? {
        queues.withLock { queues in
            (queues.values.count { !$0.messages.isEmpty }, queues.values.reduce(0) { $0 + $1.messages.count })
        }
    }

    public func store(_ message: Element, for user: String, limit: Int, byteLimit: Int) async throws -> Bool {
        let size = message.xmlString.utf8.count
        let id = nextID.withLock { id in
            defer { id += 1 }
            return id
        }
        return queues.withLock { queues in
            var queue = queues[user] ?? Queue()
            guard queue.messages.count < limit, queue.bytes + size <= byteLimit else { return false }
            queue.messages.append(OfflineMessage(id: id, element: message))
            queue.bytes += size
            queues[user] = queue
            return true
        }
    }

    public func pending(for user: String) async throws -> [OfflineMessage] {
        queues.withLock { $0[user]?.messages ?? [] }
    }

    public func remove(_ ids: [Int64], for user: String) async throws {
        let removing = Set(ids)
        queues.withLock { queues in
            guard var queue = queues[user] else { return }
            queue.messages.removeAll { removing.contains($0.id) }
            queue.bytes = queue.messages.reduce(0) { $0 + $1.element.xmlString.utf8.count }
            queues[user] = queue.messages.isEmpty ? nil : queue
        }
    }

    public func count(for user: String) async throws -> Int {
        queues.withLock { $0[user]?.messages.count ?? 0 }
    }

    public func removeAll(for user: String) async throws {
        _ = queues.withLock { $0.removeValue(forKey: user) }
    }
}

/// ``UserDataStore`` in memory.
public final class InMemoryUserDataStore: UserDataStore {
    private let values = Locked<[String: [String: [UInt8]]]>([:])

    /// Creates an empty store.
    public init() {}

    public func value(_ key: String, of user: String) async throws -> [UInt8]? {
        values.withLock { $0[user]?[key] }
    }

    public func setValue(_ value: [UInt8]?, for key: String, of user: String) async throws {
        values.withLock { $0[user, default: [:]][key] = value }
    }

    public func removeAll(of user: String) async throws {
        _ = values.withLock { $0.removeValue(forKey: user) }
    }

    public func users(withKey key: String) async throws -> [String] {
        values.withLock { $0.filter { $0.value[key] != nil }.keys.sorted() }
    }
}
