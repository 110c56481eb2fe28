import Foundation
import NIOCore
import PostgresNIO
import XMPPCore
import XMPPServerKernel

/// ``AccountStore`` in PostgreSQL: SCRAM keys, never passwords.
struct PostgresAccountStore: AccountStore {
    let database: PostgresDatabase

    func createAccount(_ username: String, credentials: [SCRAMCredentials]) async throws -> Bool {
        let logger = database.logger
        return try await database.transaction("create account") { connection in
            let now = Int(Date().timeIntervalSince1970)
            let inserted = try await connection.rows("""
                INSERT INTO account (username, created_at) VALUES (\(username), \(now)) ON CONFLICT DO NOTHING RETURNING 1
                """, logger: logger)
            guard !inserted.isEmpty else { return false }
            try await Self.insert(credentials, for: username, connection, logger: logger)
            return true
        }
    }

    func credentials(of username: String, hash: SCRAMHash) async throws -> SCRAMCredentials? {
        let logger = database.logger
        return try await database.run("credentials") { connection in
            let rows = try await connection.query("""
                SELECT salt, iterations, stored_key, server_key FROM credential WHERE username = \(username) AND hash = \(hash.rawValue)
                """, logger: logger)
            for try await (salt, iterations, storedKey, serverKey) in rows.decode((ByteBuffer, Int, ByteBuffer, ByteBuffer).self) {
                return SCRAMCredentials(hash: hash, salt: Array(salt.readableBytesView), iterations: iterations,
                                        storedKey: Array(storedKey.readableBytesView), serverKey: Array(serverKey.readableBytesView))
            }
            return nil
        }
    }

    func setCredentials(_ credentials: [SCRAMCredentials], of username: String) async throws -> Bool {
        let logger = database.logger
        return try await database.transaction("set credentials") { connection in
            let exists = try await connection.rows("SELECT 1 FROM account WHERE username = \(username) FOR UPDATE", logger: logger)
            guard !exists.isEmpty else { return false }
            try await connection.query("DELETE FROM credential WHERE username = \(username)", logger: logger)
            try await Self.insert(credentials, for: username, connection, logger: logger)
            return true
        }
    }

    func accountExists(_ username: String) async throws -> Bool {
        let logger = database.logger
        return try await database.run("account exists") { connection in
            try await !connection.rows("SELECT 1 FROM account WHERE username = \(username)", logger: logger).isEmpty
        }
    }

    func deleteAccount(_ username: String) async throws -> Bool {
        let logger = database.logger
        return try await database.run("delete account") { connection in
            // The credentials go with it (ON DELETE CASCADE).
            try await !connection.rows("DELETE FROM account WHERE username = \(username) RETURNING 1", logger: logger).isEmpty
        }
    }

    func usernames() async throws -> [String] {
        let logger = database.logger
        return try await database.run("usernames") { connection in
            try await connection.rows("SELECT username FROM account ORDER BY username", logger: logger).map { try $0.decode(String.self) }
        }
    }

    private static func insert(_ credentials: [SCRAMCredentials], for username: String, _ connection: PostgresConnection,
                               logger: Logger) async throws {
        for credential in credentials {
            try await connection.query("""
                INSERT INTO credential (username, hash, salt, iterations, stored_key, server_key)
                VALUES (\(username), \(credential.hash.rawValue), \(ByteBuffer(bytes: credential.salt)), \(credential.iterations),
                        \(ByteBuffer(bytes: credential.storedKey)), \(ByteBuffer(bytes: credential.serverKey)))
                """, logger: logger)
        }
    }
}

/// ``RosterStore`` in PostgreSQL; each item as JSON beside its contact's JID, in the order first added.
struct PostgresRosterStore: RosterStore {
    let database: PostgresDatabase

    func roster(of user: String) async throws -> StoredRoster {
        let logger = database.logger
        // Items and version from one snapshot: a change between two reads would pair old items with a new version.
        return try await database.transaction("roster", isolation: "REPEATABLE READ") { connection in
            let items = try await connection.rows("SELECT item FROM roster_item WHERE username = \(user) ORDER BY position", logger: logger).map { try $0.decode(String.self) }
            let version = try await connection.rows("SELECT version FROM roster_version WHERE username = \(user)", logger: logger).map { try $0.decode(Int.self) }.first ?? 0
            return StoredRoster(items: try items.map(Self.decode), version: version)
        }
    }

    func item(_ contact: JID, of user: String) async throws -> RosterEntry? {
        let logger = database.logger
        return try await database.run("roster item") { connection in
            try await connection.rows("SELECT item FROM roster_item WHERE username = \(user) AND contact = \(contact.description)", logger: logger).map { try $0.decode(String.self) }.first.map(Self.decode)
        }
    }

    func setItem(_ item: RosterEntry, of user: String) async throws -> Int {
        let json = String(decoding: try JSONEncoder().encode(item), as: UTF8.self)
        let logger = database.logger
        return try await database.transaction("set roster item") { connection in
            try await connection.query("""
                INSERT INTO roster_item (username, contact, item) VALUES (\(user), \(item.jid.description), \(json))
                ON CONFLICT (username, contact) DO UPDATE SET item = excluded.item
                """, logger: logger)
            return try await Self.bumpVersion(of: user, connection, logger: logger)
        }
    }

    func removeItem(_ contact: JID, of user: String) async throws -> Int {
        let logger = database.logger
        return try await database.transaction("remove roster item") { connection in
            try await connection.query("DELETE FROM roster_item WHERE username = \(user) AND contact = \(contact.description)", logger: logger)
            return try await Self.bumpVersion(of: user, connection, logger: logger)
        }
    }

    func removeRoster(of user: String) async throws {
        let logger = database.logger
        try await database.transaction("remove roster") { connection in
            try await connection.query("DELETE FROM roster_item WHERE username = \(user)", logger: logger)
            try await connection.query("DELETE FROM roster_version WHERE username = \(user)", logger: logger)
        }
    }

    private static func bumpVersion(of user: String, _ connection: PostgresConnection, logger: Logger) async throws -> Int {
        try await connection.rows("""
            INSERT INTO roster_version (username, version) VALUES (\(user), 1)
            ON CONFLICT (username) DO UPDATE SET version = roster_version.version + 1 RETURNING version
            """, logger: logger).map { try $0.decode(Int.self) }.first ?? 0
    }

    private static func decode(_ json: String) throws -> RosterEntry {
        try JSONDecoder().decode(RosterEntry.self, from: Data(json.utf8))
    }
}

/// ``OfflineStore`` in PostgreSQL; messages as serialized XML, read back with the limits for stored data. A store
/// takes the recipient's advisory lock, so two at once cannot both pass the limits.
struct PostgresOfflineStore: OfflineStore {
    let database: PostgresDatabase

    func store(_ message: Element, for user: String, limit: Int, byteLimit: Int) async throws -> Bool {
        let xml = message.xmlString
        let size = xml.utf8.count
        let logger = database.logger
        return try await database.transaction("store offline message") { connection in
            try await connection.rows("SELECT pg_advisory_xact_lock(hashtext('offline:' || \(user)))", logger: logger)
            let rows = try await connection.rows("""
                SELECT COUNT(*)::BIGINT, COALESCE(SUM(size), 0)::BIGINT FROM offline_message WHERE username = \(user)
                """, logger: logger).map { try $0.decode((Int, Int).self) }
            let (count, bytes) = rows.first ?? (0, 0)
            guard count < limit, bytes + size <= byteLimit else { return false }
            try await connection.rows("INSERT INTO offline_message (username, stanza, size) VALUES (\(user), \(xml), \(size))", logger: logger)
            return true
        }
    }

    func pending(for user: String) async throws -> [OfflineMessage] {
        let (logger, dbLogger) = (database.logger, database.logger)
        let rows = try await database.run("offline messages") { connection in
            try await connection.rows("SELECT id, stanza FROM offline_message WHERE username = \(user) ORDER BY id", logger: logger).map { try $0.decode((Int64, String).self) }
        }
        return rows.compactMap { id, xml -> OfflineMessage? in
            do {
                return OfflineMessage(id: id, element: try Element(xml: xml, limits: .stored))
            } catch {
                // Kept, not dropped: it stays in the table for an operator to look at.
                dbLogger.error("offline message unreadable", metadata: ["user": "\(user)", "id": "\(id)", "error": "\(error)"])
                return nil
            }
        }
    }

    func remove(_ ids: [Int64], for user: String) async throws {
        guard !ids.isEmpty else { return }
        let logger = database.logger
        try await database.run("remove offline messages") { connection in
            try await connection.rows("DELETE FROM offline_message WHERE username = \(user) AND id = ANY(\(ids))", logger: logger)
        }
    }

    func count(for user: String) async throws -> Int {
        let logger = database.logger
        return try await database.run("count offline messages") { connection in
            try await connection.rows("SELECT COUNT(*)::BIGINT FROM offline_message WHERE username = \(user)", logger: logger).map { try $0.decode(Int.self) }.first ?? 0
        }
    }

    func removeAll(for user: String) async throws {
        let logger = database.logger
        try await database.run("remove all offline messages") { connection in
            try await connection.rows("DELETE FROM offline_message WHERE username = \(user)", logger: logger)
        }
    }
}

/// ``UserDataStore`` in PostgreSQL.
struct PostgresUserDataStore: UserDataStore {
    let database: PostgresDatabase

    func value(_ key: String, of user: String) async throws -> [UInt8]? {
        let logger = database.logger
        return try await database.run("user data") { connection in
            try await connection.rows("SELECT value FROM user_data WHERE username = \(user) AND key = \(key)", logger: logger).map { try $0.decode(ByteBuffer.self) }.first.map { Array($0.readableBytesView) }
        }
    }

    func setValue(_ value: [UInt8]?, for key: String, of user: String) async throws {
        let logger = database.logger
        try await database.run("set user data") { connection in
            if let value {
                try await connection.rows("""
                    INSERT INTO user_data (username, key, value) VALUES (\(user), \(key), \(ByteBuffer(bytes: value)))
                    ON CONFLICT (username, key) DO UPDATE SET value = excluded.value
                    """, logger: logger)
            } else {
                try await connection.query("DELETE FROM user_data WHERE username = \(user) AND key = \(key)", logger: logger)
            }
        }
    }

    func removeAll(of user: String) async throws {
        let logger = database.logger
        try await database.run("remove user data") { connection in
            try await connection.query("DELETE FROM user_data WHERE username = \(user)", logger: logger)
        }
    }

    func users(withKey key: String) async throws -> [String] {
        let logger = database.logger
        return try await database.run("users with key") { connection in
            try await connection.rows("SELECT username FROM user_data WHERE key = \(key) ORDER BY username", logger: logger).map { try $0.decode(String.self) }
        }
    }
}

/// ``ServiceRecordStore`` in PostgreSQL: one row per (service, id).
struct PostgresServiceRecordStore: ServiceRecordStore {
    let database: PostgresDatabase

    func records(of service: String) async throws -> [(id: String, data: [UInt8])] {
        let logger = database.logger
        return try await database.run("service records") { connection in
            try await connection.rows("SELECT id, data FROM service_record WHERE service = \(service) ORDER BY id", logger: logger).map { try $0.decode((String, ByteBuffer).self) }.map { (id: $0.0, data: Array($0.1.readableBytesView)) }
        }
    }

    func save(_ data: [UInt8], id: String, of service: String) async throws {
        let logger = database.logger
        try await database.run("save service record") { connection in
            try await connection.query("""
                INSERT INTO service_record (service, id, data) VALUES (\(service), \(id), \(ByteBuffer(bytes: data)))
                ON CONFLICT (service, id) DO UPDATE SET data = excluded.data
                """, logger: logger)
        }
    }

    func delete(id: String, of service: String) async throws {
        let logger = database.logger
        try await database.run("delete service record") { connection in
            try await connection.query("DELETE FROM service_record WHERE service = \(service) AND id = \(id)", logger: logger)
        }
    }
}
