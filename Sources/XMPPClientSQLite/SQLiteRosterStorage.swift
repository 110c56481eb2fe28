import Foundation
import GRDB
import XMPPClient
import XMPPCore

/// A roster in an SQLite file (through GRDB), for ``RosterModule``: the contacts and the roster version survive a
/// relaunch, so the next login asks the server only for what changed (XEP-0237) and the app shows the contacts
/// before the connection is up.
///
/// ```swift
/// let roster = client.add(RosterModule(storage: try SQLiteRosterStorage(path: "roster.sqlite")))
/// ```
///
/// It may share a file with ``SQLiteMessageArchive``.
public final class SQLiteRosterStorage: RosterStorage {
    private let database: DatabaseQueue

    /// Opens (creating if needed) the storage at `path`; `nil` keeps it in memory.
    public init(path: String? = nil) throws {
        database = try path.map { try DatabaseQueue(path: $0) } ?? DatabaseQueue()
        var migrator = DatabaseMigrator()
        migrator.registerMigration("roster") { db in
            // One row per account: the roster is saved whole (it is bounded by the server's roster limit).
            try db.create(table: "roster") { table in
                table.primaryKey("account", .text)
                table.column("version", .text)
                table.column("items", .blob).notNull()
            }
        }
        try migrator.migrate(database)
    }

    public func load(account: JID) throws -> (version: String, items: [RosterItem])? {
        try database.read { db in
            guard let row = try Row.fetchOne(db, sql: "SELECT version, items FROM roster WHERE account = ?",
                                             arguments: [account.bare.description]),
                  let version: String = row["version"] else { return nil }
            let items = try JSONDecoder().decode([RosterItem].self, from: row["items"] as Data)
            return (version, items)
        }
    }

    public func save(account: JID, version: String?, items: [RosterItem]) throws {
        let encoded = try JSONEncoder().encode(items.sorted { $0.jid.description < $1.jid.description })
        try database.write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO roster (account, version, items) VALUES (?, ?, ?)",
                           arguments: [account.bare.description, version, encoded])
        }
    }
}
