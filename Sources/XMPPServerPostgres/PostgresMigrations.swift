import Logging
import PostgresNIO

/// The schema of one domain's tables, in numbered steps: a step runs once, in a transaction, and the schema's
/// `xmppd_migration` table records it. Several servers starting at once take turns (an advisory lock).
enum PostgresMigrations {
    static let steps: [(version: Int, sql: [String])] = [
        (1, [
            """
            CREATE TABLE account (
                username TEXT PRIMARY KEY,
                created_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE credential (
                username TEXT NOT NULL REFERENCES account(username) ON DELETE CASCADE,
                hash TEXT NOT NULL,
                salt BYTEA NOT NULL,
                iterations INTEGER NOT NULL,
                stored_key BYTEA NOT NULL,
                server_key BYTEA NOT NULL,
                PRIMARY KEY (username, hash)
            )
            """,
            """
            CREATE TABLE roster_item (
                username TEXT NOT NULL,
                contact TEXT NOT NULL,
                item TEXT NOT NULL,
                position BIGSERIAL,
                PRIMARY KEY (username, contact)
            )
            """,
            "CREATE TABLE roster_version (username TEXT PRIMARY KEY, version BIGINT NOT NULL)",
            """
            CREATE TABLE offline_message (
                id BIGSERIAL PRIMARY KEY,
                username TEXT NOT NULL,
                stanza TEXT NOT NULL,
                size INTEGER NOT NULL
            )
            """,
            "CREATE INDEX offline_message_by_user ON offline_message (username, id)",
            """
            CREATE TABLE user_data (
                username TEXT NOT NULL,
                key TEXT NOT NULL,
                value BYTEA NOT NULL,
                PRIMARY KEY (username, key)
            )
            """,
            "CREATE INDEX user_data_by_key ON user_data (key, username)",
            """
            CREATE TABLE service_record (
                service TEXT NOT NULL,
                id TEXT NOT NULL,
                data BYTEA NOT NULL,
                PRIMARY KEY (service, id)
            )
            """,
            """
            CREATE TABLE archive_entry (
                seq BIGSERIAL PRIMARY KEY,
                archive TEXT NOT NULL,
                id TEXT NOT NULL,
                timestamp DOUBLE PRECISION NOT NULL,
                with_bare TEXT NOT NULL,
                with_full TEXT NOT NULL,
                stanza TEXT NOT NULL,
                UNIQUE (archive, id)
            )
            """,
            "CREATE INDEX archive_entry_by_seq ON archive_entry (archive, seq)",
            "CREATE INDEX archive_entry_by_party ON archive_entry (archive, with_bare, seq)",
            "CREATE INDEX archive_entry_by_time ON archive_entry (archive, timestamp)",
            "CREATE TABLE archive_size (archive TEXT PRIMARY KEY, entries BIGINT NOT NULL)",
            """
            CREATE TABLE archive_party_size (
                archive TEXT NOT NULL,
                with_bare TEXT NOT NULL,
                entries BIGINT NOT NULL,
                PRIMARY KEY (archive, with_bare)
            )
            """,
        ]),
    ]

    /// The newest version.
    static var latest: Int { steps.last?.version ?? 0 }

    static func migrate(_ database: PostgresDatabase, domain: String, timeout: Duration) async throws {
        let schema = database.schema
        let logger = database.logger
        try await database.run("migrate", timeout: timeout) { connection in
            // One migrating server at a time per schema; the others wait, then find nothing left to do.
            try await connection.query("SELECT pg_advisory_lock(hashtext(\(schema)))", logger: logger)
            do {
                // Migrations may take their time (no statement bound); the name is letters, digits and underscores only.
                try await connection.query("SET statement_timeout = 0", logger: logger)
                guard schema.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") }) else {
                    throw PostgresStorageError.badSettings("schema names are letters, digits and underscores: \(schema)")
                }
                try await connection.query(PostgresQuery(unsafeSQL: "CREATE SCHEMA IF NOT EXISTS \"\(schema)\""), logger: logger)
                // The schema names its domain: another domain is never served from it.
                try await connection.query("CREATE TABLE IF NOT EXISTS xmppd_domain (domain TEXT NOT NULL)", logger: logger)
                let owners = try await connection.rows("SELECT domain FROM xmppd_domain", logger: logger).map { try $0.decode(String.self) }
                if owners.isEmpty {
                    try await connection.query("INSERT INTO xmppd_domain (domain) VALUES (\(domain))", logger: logger)
                } else if !owners.contains(domain) {
                    throw PostgresStorageError.badSettings("the schema \(schema) holds the data of \(owners.joined(separator: ", ")), not of \(domain)")
                }
                try await connection.query("CREATE TABLE IF NOT EXISTS xmppd_migration (version INTEGER PRIMARY KEY)", logger: logger)
                var done: Set<Int> = []
                for version in try await connection.rows("SELECT version FROM xmppd_migration", logger: logger).map { try $0.decode(Int.self) } {
                    done.insert(version)
                }
                for step in steps where !done.contains(step.version) {
                    try await connection.query("BEGIN", logger: logger)
                    do {
                        for statement in step.sql { try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger) }
                        try await connection.query("INSERT INTO xmppd_migration (version) VALUES (\(step.version))", logger: logger)
                        try await connection.query("COMMIT", logger: logger)
                    } catch {
                        _ = try? await connection.query("ROLLBACK", logger: logger)
                        throw error
                    }
                    logger.info("PostgreSQL schema migrated", metadata: ["schema": "\(schema)", "version": "\(step.version)"])
                }
                try await connection.query("SELECT pg_advisory_unlock(hashtext(\(schema)))", logger: logger)
                try await connection.query("RESET statement_timeout", logger: logger)
            } catch {
                _ = try? await connection.query("SELECT pg_advisory_unlock(hashtext(\(schema)))", logger: logger)
                throw error
            }
        }
    }
}
