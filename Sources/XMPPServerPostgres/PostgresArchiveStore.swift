import Foundation
import PostgresNIO
import XMPPCore
import XMPPServerKernel

/// ``ArchiveStore`` in PostgreSQL: one row per entry in insertion order (`seq`), the stanza as XML; filters and paging
/// run in SQL on indexes by archive and party, and by archive and time. The sizes of whole archives and
/// conversations are kept in their own tables (added to once per batch), so a page never counts a large archive.
struct PostgresArchiveStore: ArchiveStore {
    let database: PostgresDatabase
    /// The most entries a filtered query counts before it gives no count.
    static let countBound = 10_000

    func append(_ entry: ArchivedStanza, to archive: String) async throws -> Bool {
        try await insert([(archive, entry)]) > 0
    }

    func append(_ entries: [(archive: String, entry: ArchivedStanza)]) async throws {
        guard !entries.isEmpty else { return }
        _ = try await insert(entries.map { ($0.archive, $0.entry) })
    }

    /// Inserts the entries in one statement (their order kept; ids already in their archive are skipped) and adds the
    /// new ones to the sizes; how many were new. One round trip per batch: the archive writer hands over thousands.
    private func insert(_ rows: [(String, ArchivedStanza)]) async throws -> Int {
        let logger = database.logger
        let archives = rows.map(\.0), ids = rows.map(\.1.id), times = rows.map { $0.1.timestamp.timeIntervalSince1970 }
        let bares = rows.map { $0.1.with.bare.description }, fulls = rows.map { $0.1.with.description }
        let stanzas = rows.map { $0.1.element.xmlString }
        return try await database.transaction("archive") { connection in
            let inserted = try await connection.rows("""
                INSERT INTO archive_entry (archive, id, timestamp, with_bare, with_full, stanza)
                SELECT a, i, t, b, f, s FROM UNNEST(\(archives)::TEXT[], \(ids)::TEXT[], \(times)::FLOAT8[], \(bares)::TEXT[],
                                                    \(fulls)::TEXT[], \(stanzas)::TEXT[]) WITH ORDINALITY AS u(a, i, t, b, f, s, n)
                ORDER BY n
                ON CONFLICT DO NOTHING RETURNING archive, with_bare
                """, logger: logger).map { try $0.decode((String, String).self) }
            var added: [String: Int] = [:]
            var parties: [[String]: Int] = [:]
            for (archive, withBare) in inserted {
                added[archive, default: 0] += 1
                parties[[archive, withBare], default: 0] += 1
            }
            // In one order for every writer: two batches at once never wait on each other's rows.
            for (archive, count) in added.sorted(by: { $0.key < $1.key }) {
                try await connection.query("""
                    INSERT INTO archive_size (archive, entries) VALUES (\(archive), \(count))
                    ON CONFLICT (archive) DO UPDATE SET entries = archive_size.entries + excluded.entries
                    """, logger: logger)
            }
            for (party, count) in parties.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
                try await connection.query("""
                    INSERT INTO archive_party_size (archive, with_bare, entries) VALUES (\(party[0]), \(party[1]), \(count))
                    ON CONFLICT (archive, with_bare) DO UPDATE SET entries = archive_party_size.entries + excluded.entries
                    """, logger: logger)
            }
            return inserted.count
        }
    }

    func query(_ query: ArchiveQuery, in archive: String) async throws -> ArchivePage {
        let logger = database.logger
        return try await database.run("archive query") { connection in
            var binds = PostgresBindings()
            func bind(_ value: some PostgresDynamicTypeEncodable) -> String {
                binds.append(value)
                return "$\(binds.count)"
            }
            var filter = "archive = \(bind(archive))"
            if let with = query.with {
                filter += with.isBare ? " AND with_bare = \(bind(with.description))" : " AND with_full = \(bind(with.description))"
            }
            if let start = query.start { filter += " AND timestamp >= \(bind(start.timeIntervalSince1970))" }
            if let end = query.end { filter += " AND timestamp <= \(bind(end.timeIntervalSince1970))" }
            if let ids = query.ids { filter += ids.isEmpty ? " AND FALSE" : " AND id = ANY(\(bind(ids)))" }
            let onlyTimeless = query.start == nil && query.end == nil && query.ids == nil
            let count: Int?
            if onlyTimeless && query.with == nil {
                count = try await connection.rows("SELECT entries FROM archive_size WHERE archive = \(archive)", logger: logger).map { try $0.decode(Int.self) }.first ?? 0
            } else if onlyTimeless, let with = query.with, with.isBare {
                count = try await connection.rows("""
                    SELECT entries FROM archive_party_size WHERE archive = \(archive) AND with_bare = \(with.description)
                    """, logger: logger).map { try $0.decode(Int.self) }.first ?? 0
            } else {
                var countBinds = binds
                countBinds.append(Self.countBound + 1)
                let bounded = try await connection.rows(PostgresQuery(unsafeSQL: """
                    SELECT COUNT(*)::BIGINT FROM (SELECT 1 FROM archive_entry WHERE \(filter) LIMIT $\(countBinds.count)) AS page
                    """, binds: countBinds), logger: logger).map { try $0.decode(Int.self) }.first ?? 0
                count = bounded > Self.countBound ? nil : bounded
            }
            func anchor(_ id: String) async throws -> Int64 {
                guard let seq = try await connection.rows("SELECT seq FROM archive_entry WHERE archive = \(archive) AND id = \(id)", logger: logger).map { try $0.decode(Int64.self) }.first else {
                    throw ArchiveQueryError.unknownID(id)
                }
                return seq
            }
            if let after = query.after { filter += " AND seq > \(bind(try await anchor(after)))" }
            if let before = query.before, !before.isEmpty { filter += " AND seq < \(bind(try await anchor(before)))" }
            let limit = max(0, query.max)
            let backward = query.before != nil
            let sql = """
                SELECT id, timestamp, with_full, stanza FROM archive_entry WHERE \(filter)
                ORDER BY seq \(backward ? "DESC" : "ASC") LIMIT \(bind(limit + 1))
                """
            var rows = try await connection.rows(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger).map { try $0.decode((String, Double, String, String).self) }
            let isComplete = rows.count <= limit
            rows = Array(rows.prefix(limit))
            if backward { rows.reverse() }
            let items = try rows.map { id, time, with, xml in
                ArchivedStanza(id: id, timestamp: Date(timeIntervalSince1970: time), with: try JID(with), element: try Element(xml: xml))
            }
            return ArchivePage(items: items, isComplete: isComplete, count: count)
        }
    }

    func removeEntries(olderThan date: Date, in archive: String) async throws -> Int {
        let logger = database.logger
        let cutoff = date.timeIntervalSince1970
        return try await database.transaction("archive retention") { connection in
            let removed = try await connection.rows("""
                DELETE FROM archive_entry WHERE archive = \(archive) AND timestamp < \(cutoff) RETURNING with_bare
                """, logger: logger).map { try $0.decode(String.self) }
            try await Self.subtract(removed, from: archive, connection, logger: logger)
            return removed.count
        }
    }

    func removeArchive(_ archive: String) async throws {
        let logger = database.logger
        try await database.transaction("remove archive") { connection in
            try await connection.query("DELETE FROM archive_entry WHERE archive = \(archive)", logger: logger)
            try await connection.query("DELETE FROM archive_size WHERE archive = \(archive)", logger: logger)
            try await connection.query("DELETE FROM archive_party_size WHERE archive = \(archive)", logger: logger)
        }
    }

    /// Takes removed entries (their parties) off the sizes.
    private static func subtract(_ parties: [String], from archive: String, _ connection: PostgresConnection, logger: Logger) async throws {
        guard !parties.isEmpty else { return }
        try await connection.query("UPDATE archive_size SET entries = entries - \(parties.count) WHERE archive = \(archive)", logger: logger)
        for (party, removed) in Dictionary(parties.map { ($0, 1) }, uniquingKeysWith: +) {
            try await connection.query("""
                UPDATE archive_party_size SET entries = entries - \(removed) WHERE archive = \(archive) AND with_bare = \(party)
                """, logger: logger)
        }
    }
}
