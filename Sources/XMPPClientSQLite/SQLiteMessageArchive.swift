import Foundation
import GRDB
import XMPPClient
import XMPPCore

/// A message archive in an SQLite file (through GRDB), for ``MessageArchiveModule``: kept across launches,
/// indexed per conversation and time.
///
/// ```swift
/// let archive = client.add(MessageArchiveModule(storage: try SQLiteMessageArchive(path: "archive.sqlite")))
/// ```
public final class SQLiteMessageArchive: MessageArchiveStorage {
    private let database: DatabaseQueue

    /// Opens (creating if needed) the archive at `path`; `nil` keeps it in memory.
    public init(path: String? = nil) throws {
        database = try path.map { try DatabaseQueue(path: $0) } ?? DatabaseQueue()
        var migrator = DatabaseMigrator()
        migrator.registerMigration("messages") { db in
            try db.create(table: "message") { table in
                table.autoIncrementedPrimaryKey("id")
                table.column("account", .text).notNull()
                table.column("peer", .text).notNull()
                table.column("outgoing", .boolean).notNull()
                table.column("body", .text).notNull()
                table.column("thread", .text)
                table.column("stanzaID", .text)
                table.column("timestamp", .double).notNull()
            }
            try db.create(index: "message_conversation", on: "message", columns: ["account", "peer", "timestamp"])
        }
        migrator.registerMigration("archive ids") { db in
            try db.alter(table: "message") { table in table.add(column: "archiveID", .text) }
            try db.create(index: "message_archive_id", on: "message", columns: ["account", "archiveID"])
            try db.create(index: "message_stanza_id", on: "message", columns: ["account", "peer", "stanzaID"])
        }
        try migrator.migrate(database)
    }

    @discardableResult
    public func append(_ message: ArchivedMessage) throws -> Bool {
        try database.write { db in
            let account = message.account.description
            if let archiveID = message.archiveID,
               try Bool.fetchOne(db, sql: "SELECT 1 FROM message WHERE account = ? AND archiveID = ?", arguments: [account, archiveID]) == true {
                return false
            }
            if let stanzaID = message.stanzaID, let id = try Int64.fetchOne(db, sql: """
                SELECT id FROM message WHERE account = ? AND peer = ? AND stanzaID = ? AND outgoing = ?
                AND (archiveID IS NULL OR ? IS NULL)
                """, arguments: [account, message.peer.description, stanzaID, message.direction == .outgoing, message.archiveID]) {
                try db.execute(sql: "UPDATE message SET archiveID = COALESCE(archiveID, ?) WHERE id = ?", arguments: [message.archiveID, id])
                return false
            }
            try db.execute(sql: """
                INSERT INTO message (account, peer, outgoing, body, thread, stanzaID, timestamp, archiveID) VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [account, message.peer.description, message.direction == .outgoing,
                                 message.body, message.thread, message.stanzaID, message.timestamp.timeIntervalSince1970, message.archiveID])
            return true
        }
    }

    public func latestArchiveID(account: JID) throws -> String? {
        try database.read { db in
            try String.fetchOne(db, sql: """
                SELECT archiveID FROM message WHERE account = ? AND archiveID IS NOT NULL ORDER BY timestamp DESC, id DESC LIMIT 1
                """, arguments: [account.bare.description])
        }
    }

    public func oldestArchiveID(account: JID, peer: JID) throws -> String? {
        try database.read { db in
            try String.fetchOne(db, sql: """
                SELECT archiveID FROM message WHERE account = ? AND peer = ? AND archiveID IS NOT NULL ORDER BY timestamp ASC, id ASC LIMIT 1
                """, arguments: [account.bare.description, peer.bare.description])
        }
    }

    public func messages(account: JID, peer: JID, before: Date?, limit: Int?) throws -> [ArchivedMessage] {
        try database.read { db in
            // The newest `limit` rows, read newest first and turned around.
            let rows = try Row.fetchAll(db, sql: """
                SELECT * FROM message WHERE account = ? AND peer = ? AND timestamp < ?
                ORDER BY timestamp DESC, id DESC LIMIT ?
                """, arguments: [account.bare.description, peer.bare.description,
                                 before?.timeIntervalSince1970 ?? Double.greatestFiniteMagnitude, limit ?? -1])
            return rows.reversed().compactMap { row in
                guard let account = JID(validating: row["account"]), let peer = JID(validating: row["peer"]) else { return nil }
                return ArchivedMessage(account: account, peer: peer, direction: row["outgoing"] ? .outgoing : .incoming,
                                       body: row["body"], thread: row["thread"], stanzaID: row["stanzaID"],
                                       timestamp: Date(timeIntervalSince1970: row["timestamp"]), archiveID: row["archiveID"])
            }
        }
    }

    public func conversations(account: JID) throws -> [JID] {
        try database.read { db in
            try String.fetchAll(db, sql: """
                SELECT peer FROM message WHERE account = ? GROUP BY peer ORDER BY MAX(timestamp) DESC
                """, arguments: [account.bare.description]).compactMap(JID.init(validating:))
        }
    }
}
