import Foundation
import GRDB
import XMPPCore
import XMPPServerKernel

/// The embedded storage backend: one SQLite database in WAL mode, opened through GRDB, with its schema
/// created and upgraded by migrations. All access is asynchronous; no call blocks an event loop.
///
/// ```swift
/// let database = try SQLiteDatabase(path: "data/xmppd.sqlite")
/// let storage = database.storage            // ServerStorage for the kernel
/// ```
public final class SQLiteDatabase: Sendable {
    let pool: DatabasePool
    private let offlineRecipients: OfflineRecipients

    /// Opens (creating if needed) the database at `path` and migrates it to the current schema. `statementSeconds`,
    /// when given, hears how long each SQL statement took (the server's storage latency histogram).
    public init(path: String, statementSeconds: (@Sendable (Double) -> Void)? = nil) throws {
        var configuration = Configuration()
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            if let statementSeconds {
                db.trace(options: .profile) { event in
                    if case .profile(_, let duration) = event { statementSeconds(duration) }
                }
            }
        }
        configuration.busyMode = .timeout(5)
        pool = try DatabasePool(path: path, configuration: configuration)
        try Self.migrator.migrate(pool)
        offlineRecipients = try pool.read { db in
            OfflineRecipients(try String.fetchAll(db, sql: "SELECT DISTINCT username FROM offline_message"),
                              messages: try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM offline_message") ?? 0)
        }
    }

    /// The stores over this database.
    public var storage: ServerStorage {
        ServerStorage(accounts: SQLiteAccountStore(pool: pool), rosters: SQLiteRosterStore(pool: pool),
                      offline: SQLiteOfflineStore(pool: pool, recipients: offlineRecipients), userData: SQLiteUserDataStore(pool: pool),
                      serviceRecords: SQLiteServiceRecordStore(pool: pool), archives: SQLiteArchiveStore(pool: pool))
    }

    /// What the database holds, by owner, for copying it elsewhere (`xmppctl migrate`).
    public struct Inventory: Sendable {
        /// Accounts with roster items or a roster version.
        public var rosterOwners: [String]
        /// Accounts with offline messages waiting.
        public var offlineOwners: [String]
        /// Per-user documents: (user, key).
        public var userData: [(user: String, key: String)]
        /// Services with records.
        public var services: [String]
        /// Archives (accounts' and rooms').
        public var archives: [String]
    }

    /// Lists the owners of everything stored.
    public func inventory() async throws -> Inventory {
        try await pool.read { db in
            Inventory(
                rosterOwners: try String.fetchAll(db, sql: "SELECT username FROM roster_item UNION SELECT username FROM roster_version ORDER BY 1"),
                offlineOwners: try String.fetchAll(db, sql: "SELECT DISTINCT username FROM offline_message ORDER BY 1"),
                userData: try Row.fetchAll(db, sql: "SELECT username, key FROM user_data ORDER BY username, key").map { ($0["username"], $0["key"]) },
                services: try String.fetchAll(db, sql: "SELECT DISTINCT service FROM service_record ORDER BY 1"),
                archives: try String.fetchAll(db, sql: "SELECT archive FROM archive_size WHERE entries > 0 ORDER BY 1"))
        }
    }

    /// Writes the write-ahead log back into the main database file (on shutdown).
    public func checkpoint() throws {
        _ = try pool.writeWithoutTransaction { db in try db.checkpoint(.truncate) }
    }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1: accounts, rosters, offline messages, user data") { db in
            try db.execute(sql: """
                CREATE TABLE account (
                    username TEXT PRIMARY KEY NOT NULL,
                    created_at INTEGER NOT NULL
                );
                CREATE TABLE credential (
                    username TEXT NOT NULL REFERENCES account(username) ON DELETE CASCADE,
                    hash TEXT NOT NULL,
                    salt BLOB NOT NULL,
                    iterations INTEGER NOT NULL,
                    stored_key BLOB NOT NULL,
                    server_key BLOB NOT NULL,
                    PRIMARY KEY (username, hash)
                );
                CREATE TABLE roster_item (
                    username TEXT NOT NULL,
                    contact TEXT NOT NULL,
                    item TEXT NOT NULL,
                    PRIMARY KEY (username, contact)
                );
                CREATE TABLE roster_version (
                    username TEXT PRIMARY KEY NOT NULL,
                    version INTEGER NOT NULL
                );
                CREATE TABLE offline_message (
                    id INTEGER PRIMARY KEY AUTOINCREMENT,
                    username TEXT NOT NULL,
                    stanza TEXT NOT NULL
                );
                CREATE INDEX offline_message_by_user ON offline_message(username, id);
                CREATE TABLE user_data (
                    username TEXT NOT NULL,
                    key TEXT NOT NULL,
                    value BLOB NOT NULL,
                    PRIMARY KEY (username, key)
                );
                """)
        }
        migrator.registerMigration("v2: persistent chat rooms") { db in
            try db.execute(sql: """
                CREATE TABLE muc_room (
                    jid TEXT PRIMARY KEY NOT NULL,
                    domain TEXT NOT NULL,
                    record TEXT NOT NULL
                );
                CREATE INDEX muc_room_by_domain ON muc_room(domain);
                """)
        }
        // The kernel keeps no chat-room table of its own any more: services store records by (service, id). The
        // rooms of v2 move over unchanged (their JSON is the chat service's record format).
        migrator.registerMigration("v3: per-service records") { db in
            try db.execute(sql: """
                CREATE TABLE service_record (
                    service TEXT NOT NULL,
                    id TEXT NOT NULL,
                    data BLOB NOT NULL,
                    PRIMARY KEY (service, id)
                );
                INSERT INTO service_record (service, id, data) SELECT domain, jid, CAST(record AS BLOB) FROM muc_room;
                DROP TABLE muc_room;
                """)
        }
        migrator.registerMigration("v4: archives") { db in
            try db.execute(sql: """
                CREATE TABLE archive_entry (
                    seq INTEGER PRIMARY KEY AUTOINCREMENT,
                    archive TEXT NOT NULL,
                    id TEXT NOT NULL,
                    timestamp REAL NOT NULL,
                    with_bare TEXT NOT NULL,
                    with_full TEXT NOT NULL,
                    stanza TEXT NOT NULL,
                    UNIQUE (archive, id)
                );
                CREATE INDEX archive_entry_by_party ON archive_entry(archive, with_bare, seq);
                CREATE INDEX archive_entry_by_time ON archive_entry(archive, timestamp);
                """)
        }
        migrator.registerMigration("v5: offline message sizes") { db in
            try db.execute(sql: """
                ALTER TABLE offline_message ADD COLUMN size INTEGER NOT NULL DEFAULT 0;
                UPDATE offline_message SET size = length(CAST(stanza AS BLOB));
                CREATE INDEX offline_message_sizes ON offline_message(username, size);
                """)
        }
        migrator.registerMigration("v6: archive pages and sizes") { db in
            // The newest page of a large archive without filters, and its size without counting its rows.
            try db.execute(sql: """
                CREATE INDEX archive_entry_by_seq ON archive_entry(archive, seq);
                CREATE TABLE archive_size (archive TEXT PRIMARY KEY, entries INTEGER NOT NULL) WITHOUT ROWID;
                INSERT INTO archive_size (archive, entries) SELECT archive, COUNT(*) FROM archive_entry GROUP BY archive;
                CREATE TRIGGER archive_entry_added AFTER INSERT ON archive_entry BEGIN
                    INSERT INTO archive_size (archive, entries) VALUES (NEW.archive, 1)
                    ON CONFLICT (archive) DO UPDATE SET entries = entries + 1;
                END;
                CREATE TRIGGER archive_entry_removed AFTER DELETE ON archive_entry BEGIN
                    UPDATE archive_size SET entries = entries - 1 WHERE archive = OLD.archive;
                END;
                """)
        }
        migrator.registerMigration("v7: archive sizes per party") { db in
            // The size of one conversation (with a bare JID), kept like the archive's, for the same reason.
            try db.execute(sql: """
                CREATE TABLE archive_party_size (archive TEXT NOT NULL, with_bare TEXT NOT NULL, entries INTEGER NOT NULL,
                                                 PRIMARY KEY (archive, with_bare)) WITHOUT ROWID;
                INSERT INTO archive_party_size (archive, with_bare, entries)
                    SELECT archive, with_bare, COUNT(*) FROM archive_entry GROUP BY archive, with_bare;
                CREATE TRIGGER archive_entry_added_to_party AFTER INSERT ON archive_entry BEGIN
                    INSERT INTO archive_party_size (archive, with_bare, entries) VALUES (NEW.archive, NEW.with_bare, 1)
                    ON CONFLICT (archive, with_bare) DO UPDATE SET entries = entries + 1;
                END;
                CREATE TRIGGER archive_entry_removed_from_party AFTER DELETE ON archive_entry BEGIN
                    UPDATE archive_party_size SET entries = entries - 1 WHERE archive = OLD.archive AND with_bare = OLD.with_bare;
                END;
                """)
        }
        migrator.registerMigration("v8: archive sizes counted per batch") { db in
            // A trigger per inserted row cost more than the row; appends now add to the sizes once per batch.
            try db.execute(sql: """
                DROP TRIGGER archive_entry_added;
                DROP TRIGGER archive_entry_added_to_party;
                """)
        }
        return migrator
    }
}
