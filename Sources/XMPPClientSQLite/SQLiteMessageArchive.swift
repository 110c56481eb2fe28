import Foundation
import GRDB
import XMPPClient
import XMPPCore

/// A message archive in an SQLite file (through GRDB), for ``MessageArchiveModule``: kept across launches,
/// indexed per conversation and time. It is also an outbox for ``ChatModule``: messages sent while offline wait in
/// the same file, and go out at the next session even after a relaunch.
///
/// ```swift
/// let store = try SQLiteMessageArchive(path: "archive.sqlite")
/// let archive = client.add(MessageArchiveModule(storage: store))
/// let chat = client.add(ChatModule(outbox: store))
/// ```
public final class SQLiteMessageArchive: MessageArchiveStorage, OutboxStorage {
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
        migrator.registerMigration("delivery status and outbox") { db in
            try db.alter(table: "message") { table in table.add(column: "status", .text) }
            try db.create(table: "outbox") { table in
                table.autoIncrementedPrimaryKey("seq")
                table.column("account", .text).notNull()
                table.column("id", .text).notNull()
                table.column("stanza", .text).notNull()
                table.column("queuedAt", .double).notNull()
            }
            try db.create(index: "outbox_account", on: "outbox", columns: ["account", "seq"])
        }
        migrator.registerMigration("conversation model") { db in
            try db.alter(table: "message") { table in
                table.add(column: "replyTo", .text)
                table.add(column: "reactions", .text)
                table.add(column: "edited", .boolean).notNull().defaults(to: false)
                table.add(column: "retracted", .boolean).notNull().defaults(to: false)
            }
            try db.create(table: "readpoint") { table in
                table.column("account", .text).notNull()
                table.column("peer", .text).notNull()
                table.column("readUpTo", .double).notNull()
                table.primaryKey(["account", "peer"])
            }
        }
        migrator.registerMigration("rooms") { db in
            try db.alter(table: "message") { table in
                table.add(column: "kind", .text).notNull().defaults(to: ConversationKind.chat.rawValue)
                table.add(column: "nickname", .text)
            }
        }
        migrator.registerMigration("occupant ids") { db in
            try db.alter(table: "message") { table in table.add(column: "occupantID", .text) }
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
                INSERT INTO message (account, peer, outgoing, body, thread, stanzaID, timestamp, archiveID, status, replyTo, reactions,
                                     edited, retracted, kind, nickname, occupantID)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """, arguments: [account, message.peer.description, message.direction == .outgoing,
                                 message.body, message.thread, message.stanzaID, message.timestamp.timeIntervalSince1970, message.archiveID,
                                 message.deliveryStatus?.word, message.replyTo, Self.encode(message.reactions),
                                 message.isEdited, message.isRetracted, message.kind.rawValue, message.nickname,
                                 message.occupantID])
            return true
        }
    }

    public func latestArchiveID(account: JID) throws -> String? {
        try database.read { db in
            try String.fetchOne(db, sql: """
                SELECT archiveID FROM message WHERE account = ? AND kind = 'chat' AND archiveID IS NOT NULL
                ORDER BY timestamp DESC, id DESC LIMIT 1
                """, arguments: [account.bare.description])
        }
    }

    public func oldestArchiveID(account: JID, peer: JID) throws -> String? {
        try archiveID(account: account, peer: peer, order: "ASC")
    }

    public func newestArchiveID(account: JID, peer: JID) throws -> String? {
        try archiveID(account: account, peer: peer, order: "DESC")
    }

    /// The archive id of the first stored message with `peer` that has one, in time `order` (`ASC` or `DESC`).
    private func archiveID(account: JID, peer: JID, order: String) throws -> String? {
        try database.read { db in
            try String.fetchOne(db, sql: """
                SELECT archiveID FROM message WHERE account = ? AND peer = ? AND archiveID IS NOT NULL
                ORDER BY timestamp \(order), id \(order) LIMIT 1
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
            return rows.reversed().compactMap(Self.message(from:))
        }
    }

    public func conversations(account: JID) throws -> [JID] {
        try database.read { db in
            try String.fetchAll(db, sql: """
                SELECT peer FROM message WHERE account = ? GROUP BY peer ORDER BY MAX(timestamp) DESC
                """, arguments: [account.bare.description]).compactMap(JID.init(validating:))
        }
    }

    public func updateDeliveryStatus(account: JID, peer: JID, stanzaID: String, status: DeliveryStatus) throws {
        try database.write { db in
            try db.execute(sql: "UPDATE message SET status = ? WHERE account = ? AND peer = ? AND stanzaID = ? AND outgoing = 1",
                           arguments: [status.word, account.bare.description, peer.bare.description, stanzaID])
        }
    }

    // MARK: OutboxStorage

    public func enqueue(_ message: QueuedMessage) throws {
        try database.write { db in
            try db.execute(sql: "INSERT INTO outbox (account, id, stanza, queuedAt) VALUES (?, ?, ?, ?)",
                           arguments: [message.account.description, message.id, message.stanza.xmlString,
                                       message.queuedAt.timeIntervalSince1970])
        }
    }

    public func queued(account: JID) throws -> [QueuedMessage] {
        try database.read { db in
            try Row.fetchAll(db, sql: "SELECT id, stanza, queuedAt FROM outbox WHERE account = ? ORDER BY seq",
                             arguments: [account.bare.description]).compactMap { row in
                guard let stanza = try? Element(xml: row["stanza"]) else { return nil }
                return QueuedMessage(account: account, id: row["id"], stanza: stanza, queuedAt: Date(timeIntervalSince1970: row["queuedAt"]))
            }
        }
    }

    public func remove(id: String, account: JID) throws {
        try database.write { db in
            try db.execute(sql: "DELETE FROM outbox WHERE account = ? AND id = ?", arguments: [account.bare.description, id])
        }
    }

    // MARK: The conversation model

    /// The message a row holds.
    private static func message(from row: Row) -> ArchivedMessage? {
        guard let account = JID(validating: row["account"]), let peer = JID(validating: row["peer"]) else { return nil }
        var message = ArchivedMessage(account: account, peer: peer, direction: row["outgoing"] ? .outgoing : .incoming,
                                      body: row["body"], thread: row["thread"], stanzaID: row["stanzaID"],
                                      timestamp: Date(timeIntervalSince1970: row["timestamp"]), archiveID: row["archiveID"],
                                      deliveryStatus: (row["status"] as String?).flatMap(DeliveryStatus.init(word:)))
        message.replyTo = row["replyTo"]
        message.reactions = decode(row["reactions"])
        message.isEdited = row["edited"]
        message.isRetracted = row["retracted"]
        message.kind = (row["kind"] as String?).flatMap(ConversationKind.init(rawValue:)) ?? .chat
        message.nickname = row["nickname"]
        message.occupantID = row["occupantID"]
        return message
    }

    private static func encode(_ reactions: [String: [String]]) -> String? {
        guard !reactions.isEmpty, let data = try? JSONEncoder().encode(reactions) else { return nil }
        return String(decoding: data, as: UTF8.self)
    }

    private static func decode(_ text: String?) -> [String: [String]] {
        guard let text else { return [:] }
        return (try? JSONDecoder().decode([String: [String]].self, from: Data(text.utf8))) ?? [:]
    }

    @discardableResult
    public func apply(_ change: MessageChange, toStanzaID stanzaID: String, direction: ArchivedMessage.Direction,
                      account: JID, peer: JID) throws -> Bool {
        try database.write { db in
            guard let row = try Row.fetchOne(db, sql: """
                SELECT * FROM message WHERE account = ? AND peer = ? AND stanzaID = ? ORDER BY id DESC LIMIT 1
                """, arguments: [account.bare.description, peer.bare.description, stanzaID]),
                  var message = Self.message(from: row) else { return false }
            guard message.apply(change, direction: direction) else { return false }
            try Self.update(message, row: row["id"], in: db)
            return true
        }
    }

    @discardableResult
    public func apply(_ change: MessageChange, toRoomMessage id: String, by sender: RoomSender, account: JID, room: JID) throws -> Bool {
        try database.write { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT * FROM message WHERE account = ? AND peer = ? AND kind = 'room' AND (archiveID = ? OR stanzaID = ?) ORDER BY id DESC
                """, arguments: [account.bare.description, room.bare.description, id, id])
            let stored = rows.compactMap { row in Self.message(from: row).map { (id: row["id"] as Int64, message: $0) } }
            var candidates = stored.map(\.message)
            guard let changed = ArchivedMessage.apply(change, by: sender, toFirstOf: &candidates, named: id) else { return false }
            try Self.update(candidates[changed], row: stored[changed].id, in: db)
            return true
        }
    }

    /// Writes what a change alters (body, reactions, flags) of `message` back to its row.
    private static func update(_ message: ArchivedMessage, row id: Int64, in db: Database) throws {
        try db.execute(sql: "UPDATE message SET body = ?, reactions = ?, edited = ?, retracted = ? WHERE id = ?",
                       arguments: [message.body, encode(message.reactions), message.isEdited, message.isRetracted, id])
    }

    public func markRead(account: JID, peer: JID, upTo date: Date) throws {
        try database.write { db in
            try db.execute(sql: """
                INSERT INTO readpoint (account, peer, readUpTo) VALUES (?, ?, ?)
                ON CONFLICT (account, peer) DO UPDATE SET readUpTo = MAX(readUpTo, excluded.readUpTo)
                """, arguments: [account.bare.description, peer.bare.description, date.timeIntervalSince1970])
        }
    }

    public func conversationSummaries(account: JID) throws -> [Conversation] {
        try conversations(account: account).map { peer in
            let last = try messages(account: account, peer: peer, before: nil, limit: 1).last
            return try database.read { db in
                let readUpTo = try Double.fetchOne(db, sql: "SELECT readUpTo FROM readpoint WHERE account = ? AND peer = ?",
                                                   arguments: [account.bare.description, peer.bare.description])
                let unread = try Int.fetchOne(db, sql: """
                    SELECT COUNT(*) FROM message WHERE account = ? AND peer = ? AND outgoing = 0 AND retracted = 0 AND timestamp > ?
                    """, arguments: [account.bare.description, peer.bare.description, readUpTo ?? -Double.greatestFiniteMagnitude]) ?? 0
                return Conversation(peer: peer, kind: last?.kind ?? .chat, lastMessage: last, unreadCount: unread,
                                    readUpTo: readUpTo.map(Date.init(timeIntervalSince1970:)))
            }
        }
    }
}
