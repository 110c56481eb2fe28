import Foundation
import GRDB
import XMPPCore
import XMPPServerKernel

/// ``ArchiveStore`` in SQLite: one row per entry in insertion order (`seq`), the stanza as XML; filters and paging
/// run in SQL on indexes by archive and party, and by archive and time.
struct SQLiteArchiveStore: ArchiveStore {
    let pool: DatabasePool
    /// The most entries a filtered query counts before it gives no count.
    static let countBound = 10_000

    func append(_ entry: ArchivedStanza, to archive: String) async throws -> Bool {
        let row = (archive, entry, entry.element.xmlString)
        return try await pool.write { db in try Self.insert([row], db) > 0 }
    }

    func append(_ entries: [(archive: String, entry: ArchivedStanza)]) async throws {
        guard !entries.isEmpty else { return }
        let rows = entries.map { ($0.archive, $0.entry, $0.entry.element.xmlString) }
        try await pool.write { db in _ = try Self.insert(rows, db) }
    }

    /// Inserts rows (ids already in their archive are skipped) and adds what was new to the archive and conversation
    /// sizes, once per archive and conversation; returns how many rows were new.
    private static func insert(_ rows: [(String, ArchivedStanza, String)], _ db: Database) throws -> Int {
        let statement = try db.cachedStatement(sql: """
            INSERT OR IGNORE INTO archive_entry (archive, id, timestamp, with_bare, with_full, stanza)
            VALUES (?, ?, ?, ?, ?, ?)
            """)
        var archives: [String: Int] = [:]
        var parties: [PartyKey: Int] = [:]
        for (archive, entry, xml) in rows {
            let withBare = entry.with.bare.description
            try statement.execute(arguments: [archive, entry.id, entry.timestamp.timeIntervalSince1970, withBare,
                                              entry.with.description, xml])
            guard db.changesCount > 0 else { continue }
            archives[archive, default: 0] += 1
            parties[PartyKey(archive: archive, withBare: withBare), default: 0] += 1
        }
        for (archive, added) in archives {
            try db.execute(sql: """
                INSERT INTO archive_size (archive, entries) VALUES (?, ?)
                ON CONFLICT (archive) DO UPDATE SET entries = entries + excluded.entries
                """, arguments: [archive, added])
        }
        for (party, added) in parties {
            try db.execute(sql: """
                INSERT INTO archive_party_size (archive, with_bare, entries) VALUES (?, ?, ?)
                ON CONFLICT (archive, with_bare) DO UPDATE SET entries = entries + excluded.entries
                """, arguments: [party.archive, party.withBare, added])
        }
        return archives.values.reduce(0, +)
    }

    private struct PartyKey: Hashable {
        var archive: String
        var withBare: String
    }

    func query(_ query: ArchiveQuery, in archive: String) async throws -> ArchivePage {
        try await pool.read { db in
            var filter = "archive = ?"
            var arguments: StatementArguments = [archive]
            if let with = query.with {
                filter += with.isBare ? " AND with_bare = ?" : " AND with_full = ?"
                _ = arguments.append(contentsOf: [with.description])
            }
            if let start = query.start {
                filter += " AND timestamp >= ?"
                _ = arguments.append(contentsOf: [start.timeIntervalSince1970])
            }
            if let end = query.end {
                filter += " AND timestamp <= ?"
                _ = arguments.append(contentsOf: [end.timeIntervalSince1970])
            }
            if let ids = query.ids {
                filter += " AND id IN (\(Array(repeating: "?", count: ids.count).joined(separator: ",")))"
                _ = arguments.append(contentsOf: StatementArguments(ids))
                if ids.isEmpty { filter += " AND 0" }
            }
            // Sizes of whole archives and conversations are kept by triggers (counting a million rows takes longer than
            // reading the page); other filters count up to a bound, past which the size is not given (XEP-0059 allows it).
            let onlyTimeless = query.start == nil && query.end == nil && query.ids == nil
            let count: Int?
            if onlyTimeless && query.with == nil {
                count = try Int.fetchOne(db, sql: "SELECT entries FROM archive_size WHERE archive = ?", arguments: [archive]) ?? 0
            } else if onlyTimeless, let with = query.with, with.isBare {
                count = try Int.fetchOne(db, sql: "SELECT entries FROM archive_party_size WHERE archive = ? AND with_bare = ?",
                                         arguments: [archive, with.description]) ?? 0
            } else {
                let bounded = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM (SELECT 1 FROM archive_entry WHERE \(filter) LIMIT ?)",
                                               arguments: arguments + [Self.countBound + 1]) ?? 0
                count = bounded > Self.countBound ? nil : bounded
            }
            func anchor(_ id: String) throws -> Int64 {
                guard let seq = try Int64.fetchOne(db, sql: "SELECT seq FROM archive_entry WHERE archive = ? AND id = ?",
                                                   arguments: [archive, id]) else { throw ArchiveQueryError.unknownID(id) }
                return seq
            }
            if let after = query.after {
                filter += " AND seq > ?"
                _ = arguments.append(contentsOf: [try anchor(after)])
            }
            if let before = query.before, !before.isEmpty {
                filter += " AND seq < ?"
                _ = arguments.append(contentsOf: [try anchor(before)])
            }
            let limit = max(0, query.max)
            let backward = query.before != nil
            let order = backward ? "DESC" : "ASC"
            _ = arguments.append(contentsOf: [limit + 1])
            var rows = try Row.fetchAll(db, sql: """
                SELECT id, timestamp, with_full, stanza FROM archive_entry WHERE \(filter) ORDER BY seq \(order) LIMIT ?
                """, arguments: arguments)
            let isComplete = rows.count <= limit
            rows = Array(rows.prefix(limit))
            if backward { rows.reverse() }
            let items = try rows.map { row -> ArchivedStanza in
                let with: String = row["with_full"]
                return ArchivedStanza(id: row["id"], timestamp: Date(timeIntervalSince1970: row["timestamp"]),
                                      with: try JID(with), element: try Element(xml: row["stanza"] as String))
            }
            return ArchivePage(items: items, isComplete: isComplete, count: count)
        }
    }

    func removeEntries(olderThan date: Date, in archive: String) async throws -> Int {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM archive_entry WHERE archive = ? AND timestamp < ?",
                           arguments: [archive, date.timeIntervalSince1970])
            return db.changesCount
        }
    }

    func removeArchive(_ archive: String) async throws {
        try await pool.write { db in
            try db.execute(sql: "DELETE FROM archive_entry WHERE archive = ?", arguments: [archive])
        }
    }
}
