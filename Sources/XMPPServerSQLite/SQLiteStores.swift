import Foundation
import GRDB
import Logging
import XMPPCore
import XMPPServerKernel

/// ``AccountStore`` in SQLite.
struct SQLiteAccountStore: AccountStore {
    let pool: DatabasePool

    func createAccount(_ username: String, credentials: [SCRAMCredentials]) async throws -> Bool {
        try await pool.write { db in
            guard try Int.fetchOne(db, sql: "SELECT 1 FROM account WHERE username = ?", arguments: [username]) == nil else { return false }
            try db.execute(sql: "INSERT INTO account (username, created_at) VALUES (?, ?)",
                           arguments: [username, Int(Date().timeIntervalSince1970)])
            try Self.insert(credentials, for: username, db)
            return true
        }
    }

    func credentials(of username: String, hash: SCRAMHash) async throws -> SCRAMCredentials? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT salt, iterations, stored_key, server_key FROM credential WHERE username = ? AND hash = ?",
                             arguments: [username, hash.rawValue]).map { row in
                SCRAMCredentials(hash: hash, salt: [UInt8](row["salt"] as Data), iterations: row["iterations"],
                                 storedKey: [UInt8](row["stored_key"] as Data), serverKey: [UInt8](row["server_key"] as Data))
            }
        }
    }

    func setCredentials(_ credentials: [SCRAMCredentials], of username: String) async throws -> Bool {
        try await pool.write { db in
            guard try Int.fetchOne(db, sql: "SELECT 1 FROM account WHERE username = ?", arguments: [username]) != nil else { return false }
            try db.execute(sql: "DELETE FROM credential WHERE username = ?", arguments: [username])
            try Self.insert(credentials, for: username, db)
            return true
        }
    }

    func accountExists(_ username: String) async throws -> Bool {
        try await pool.read { db in
            try Int.fetchOne(db, sql: "SELECT 1 FROM account WHERE username = ?", arguments: [username]) != nil
        }
    }

    func deleteAccount(_ username: String) async throws -> Bool {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM credential WHERE username = ?", arguments: [username])
            try db.execute(sql: "DELETE FROM account WHERE username = ?", arguments: [username])
            return db.changesCount > 0
        }
    }

    func usernames() async throws -> [String] {
        try await pool.read { db in try String.fetchAll(db, sql: "SELECT username FROM account ORDER BY username") }
    }

    private static func insert(_ credentials: [SCRAMCredentials], for username: String, _ db: Database) throws {
        for credential in credentials {
            try db.execute(sql: """
                INSERT INTO credential (username, hash, salt, iterations, stored_key, server_key) VALUES (?, ?, ?, ?, ?, ?)
                """, arguments: [username, credential.hash.rawValue, Data(credential.salt), credential.iterations,
                                 Data(credential.storedKey), Data(credential.serverKey)])
        }
    }
}

/// ``RosterStore`` in SQLite; each item is kept as JSON beside its contact's JID.
struct SQLiteRosterStore: RosterStore {
    let pool: DatabasePool

    func roster(of user: String) async throws -> StoredRoster {
        try await pool.read { db in
            let items = try String.fetchAll(db, sql: "SELECT item FROM roster_item WHERE username = ? ORDER BY rowid", arguments: [user])
            let version = try Int.fetchOne(db, sql: "SELECT version FROM roster_version WHERE username = ?", arguments: [user]) ?? 0
            return StoredRoster(items: try items.map(Self.decode), version: version)
        }
    }

    func item(_ contact: JID, of user: String) async throws -> RosterEntry? {
        try await pool.read { db in
            try String.fetchOne(db, sql: "SELECT item FROM roster_item WHERE username = ? AND contact = ?",
                                arguments: [user, contact.description]).map(Self.decode)
        }
    }

    func setItem(_ item: RosterEntry, of user: String) async throws -> Int {
        let json = String(decoding: try JSONEncoder().encode(item), as: UTF8.self)
        return try await pool.write { db in
            try db.execute(sql: """
                INSERT INTO roster_item (username, contact, item) VALUES (?, ?, ?)
                ON CONFLICT (username, contact) DO UPDATE SET item = excluded.item
                """, arguments: [user, item.jid.description, json])
            return try Self.bumpVersion(of: user, db)
        }
    }

    func removeItem(_ contact: JID, of user: String) async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM roster_item WHERE username = ? AND contact = ?", arguments: [user, contact.description])
            return try Self.bumpVersion(of: user, db)
        }
    }

    func removeRoster(of user: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM roster_item WHERE username = ?", arguments: [user])
            try db.execute(sql: "DELETE FROM roster_version WHERE username = ?", arguments: [user])
        }
    }

    private static func bumpVersion(of user: String, _ db: Database) throws -> Int {
        try db.execute(sql: """
            INSERT INTO roster_version (username, version) VALUES (?, 1)
            ON CONFLICT (username) DO UPDATE SET version = version + 1
            """, arguments: [user])
        return try Int.fetchOne(db, sql: "SELECT version FROM roster_version WHERE username = ?", arguments: [user]) ?? 0
    }

    private static func decode(_ json: String) throws -> RosterEntry {
        try JSONDecoder().decode(RosterEntry.self, from: Data(json.utf8))
    }
}

/// ``OfflineStore`` in SQLite; messages are kept as serialized XML and read back with the limits for stored data.
struct SQLiteOfflineStore: OfflineStore {
    let pool: DatabasePool
    let recipients: OfflineRecipients
    let logger = Logger(label: "xmppd.storage")

    func store(_ message: Element, for user: String, limit: Int, byteLimit: Int) async throws -> Bool {
        let xml = message.xmlString
        let stored = try await pool.write { db in
            // Count and size from the (username, size) index alone: no stored stanza is read to decide.
            let row = try Row.fetchOne(db, sql: """
                SELECT COUNT(*) AS count, COALESCE(SUM(size), 0) AS bytes FROM offline_message WHERE username = ?
                """, arguments: [user])
            let (count, bytes): (Int, Int) = (row?["count"] ?? 0, row?["bytes"] ?? 0)
            guard count < limit, bytes + xml.utf8.count <= byteLimit else { return false }
            try db.execute(sql: "INSERT INTO offline_message (username, stanza, size) VALUES (?, ?, ?)",
                           arguments: [user, xml, xml.utf8.count])
            return true
        }
        // After the commit: a removal that took the user out before this point has not seen the row, so the
        // user must be back in the set (see OfflineRecipients).
        if stored {
            recipients.insert(user)
            recipients.messagesChanged(by: 1)
        }
        return stored
    }

    func pending(for user: String) async throws -> [OfflineMessage] {
        // Every login asks, and most have nothing waiting: answered from memory, without touching the database.
        guard recipients.contains(user) else { return [] }
        let rows = try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT id, stanza FROM offline_message WHERE username = ? ORDER BY id", arguments: [user])
        }
        return rows.compactMap { row in
            let id: Int64 = row["id"]
            do {
                return OfflineMessage(id: id, element: try Element(xml: row["stanza"] as String, limits: .stored))
            } catch {
                // Kept, not dropped: it stays in the table for an operator to look at.
                logger.error("offline message unreadable", metadata: ["user": "\(user)", "id": "\(id)", "error": "\(error)"])
                return nil
            }
        }
    }

    func remove(_ ids: [Int64], for user: String) async throws {
        guard !ids.isEmpty else { return }
        // Out of the set first, back in if rows remain: a store committing meanwhile puts the user back itself.
        _ = recipients.remove(user)
        let (removed, remaining) = try await pool.write { db in
            var removed = 0
            for id in ids {
                try db.execute(sql: "DELETE FROM offline_message WHERE username = ? AND id = ?", arguments: [user, id])
                removed += db.changesCount
            }
            return (removed, try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM offline_message WHERE username = ?", arguments: [user]) ?? 0)
        }
        recipients.messagesChanged(by: -removed)
        if remaining > 0 { recipients.insert(user) }
    }

    func count(for user: String) async throws -> Int {
        try await pool.read { db in
            try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM offline_message WHERE username = ?", arguments: [user]) ?? 0
        }
    }

    func removeAll(for user: String) async throws {
        let removed = try await pool.write { db in
            try db.execute(sql: "DELETE FROM offline_message WHERE username = ?", arguments: [user])
            return db.changesCount
        }
        recipients.messagesChanged(by: -removed)
        _ = recipients.remove(user)
    }

    var queueFigures: (accounts: Int, messages: Int)? { recipients.figures }
}

/// ``UserDataStore`` in SQLite.
struct SQLiteUserDataStore: UserDataStore {
    let pool: DatabasePool

    func value(_ key: String, of user: String) async throws -> [UInt8]? {
        try await pool.read { db in
            try Data.fetchOne(db, sql: "SELECT value FROM user_data WHERE username = ? AND key = ?", arguments: [user, key]).map { [UInt8]($0) }
        }
    }

    func setValue(_ value: [UInt8]?, for key: String, of user: String) async throws {
        try await pool.write { db in
            if let value {
                try db.execute(sql: """
                    INSERT INTO user_data (username, key, value) VALUES (?, ?, ?)
                    ON CONFLICT (username, key) DO UPDATE SET value = excluded.value
                    """, arguments: [user, key, Data(value)])
            } else {
                try db.execute(sql: "DELETE FROM user_data WHERE username = ? AND key = ?", arguments: [user, key])
            }
        }
    }

    func removeAll(of user: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM user_data WHERE username = ?", arguments: [user])
        }
    }

    func users(withKey key: String) async throws -> [String] {
        try await pool.read { db in
            try String.fetchAll(db, sql: "SELECT username FROM user_data WHERE key = ? ORDER BY username", arguments: [key])
        }
    }
}

/// The users that may have offline messages waiting: every user with a stored row is in the set (it may also
/// hold users whose messages were taken meanwhile, which costs one query). Loaded when the database opens and
/// kept by this process's ``SQLiteOfflineStore``: a store adds the user after its row is committed, a removal takes
/// the user out before deleting and puts it back if rows remain, so a row is never left behind with its user
/// missing. Only the server
/// stores offline messages; other processes on the same database (xmppctl) only delete them.
final class OfflineRecipients: Sendable {
    private let users: Locked<Set<String>>
    /// Messages waiting in all, counted from the table at start and kept up with every write.
    private let messages: Locked<Int>

    init(_ users: [String], messages: Int = 0) {
        self.users = Locked(Set(users))
        self.messages = Locked(messages)
    }

    func messagesChanged(by change: Int) {
        messages.withLock { $0 = max(0, $0 + change) }
    }

    /// Accounts that may have messages waiting, and messages waiting.
    var figures: (accounts: Int, messages: Int) { (users.withLock { $0.count }, messages.withLock { $0 }) }

    func insert(_ user: String) {
        _ = users.withLock { $0.insert(user) }
    }

    /// Removes the user; returns whether they were in the set.
    func remove(_ user: String) -> Bool {
        users.withLock { $0.remove(user) != nil }
    }

    /// Whether the user may have messages waiting.
    func contains(_ user: String) -> Bool {
        users.withLock { $0.contains(user) }
    }
}
