import Crypto
import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresNIO
import XMPPCore
import XMPPServerKernel

/// The PostgreSQL storage backend (`storage = postgresql`): a pool of connections (postgres-nio's `PostgresClient`)
/// to one database, its schema created and upgraded by numbered migrations, and the kernel's stores over it.
///
/// Each domain of a server keeps its tables in a PostgreSQL schema of its own (`schema`), so virtual hosts share
/// one database without sharing rows. Every operation waits at most ``operationTimeout`` for a connection and its
/// answer: while the database is down, storage calls fail quickly (the caller answers with an error) instead of piling
/// up, and the pool reconnects by itself.
public final class PostgresDatabase: Sendable {
    let client: PostgresClient
    /// The PostgreSQL schema of the domain's tables.
    public let schema: String
    /// The domain whose data it is (the schema says so, and a schema of another domain is refused).
    public let domain: String
    let logger: Logger
    private let runner: Task<Void, Never>
    /// How long one storage operation may take, connection included.
    public let operationTimeout: Duration

    /// Sets up a pool to the database `settings` names, for `domain`'s tables in `schema` (``schema(for:)`` by default);
    /// nothing connects until ``prepare()``.
    public init(settings: PostgresSettings, domain: String, schema: String? = nil, logger: Logger,
                operationTimeout: Duration = .seconds(5)) throws {
        let schema = schema ?? Self.schema(for: domain)
        var configuration = PostgresClient.Configuration(host: settings.host, port: settings.port, username: settings.username,
                                                         password: settings.password, database: settings.database,
                                                         tls: try settings.clientTLS())
        configuration.options.maximumConnections = settings.maxConnections
        configuration.options.connectTimeout = .seconds(5)
        // Unqualified table names are this domain's. The server itself ends a statement, a lock wait or an idle
        // transaction that runs past the operation bound, so no connection stays busy after its caller gave up.
        let bound = String(max(1, Int(operationTimeout.components.seconds)) * 1000)
        configuration.options.additionalStartupParameters = [
            ("search_path", schema), ("statement_timeout", bound), ("lock_timeout", bound),
            ("idle_in_transaction_session_timeout", String(Int(bound)! * 2)),
        ]
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.domain = domain
        self.schema = schema
        self.logger = logger
        self.operationTimeout = operationTimeout
        runner = Task { await client.run() }
    }

    /// Connects, creates the schema if missing and migrates it (the server's start waits for this); throws when the
    /// database cannot be reached within `timeout`.
    public func prepare(timeout: Duration = .seconds(30)) async throws {
        try await PostgresMigrations.migrate(self, domain: domain, timeout: timeout)
    }

    /// The stores over this database.
    public var storage: ServerStorage {
        ServerStorage(accounts: PostgresAccountStore(database: self), rosters: PostgresRosterStore(database: self),
                      offline: PostgresOfflineStore(database: self), userData: PostgresUserDataStore(database: self),
                      serviceRecords: PostgresServiceRecordStore(database: self), archives: PostgresArchiveStore(database: self))
    }

    /// Closes the pool.
    public func shutdown() {
        runner.cancel()
    }

    /// Runs `body` with a pooled connection, giving up after ``operationTimeout`` with ``PostgresStorageError/timedOut``:
    /// the caller gets its answer by then whatever the network does (the database's own statement timeout ends the work
    /// left behind).
    func run<Result: Sendable>(_ what: String, timeout: Duration? = nil,
                               _ body: @escaping @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
        let (client, timeout, logger) = (self.client, timeout ?? operationTimeout, self.logger)
        let outcome = Locked<CheckedContinuation<Result, any Error>?>(nil)
        return try await withCheckedThrowingContinuation { continuation in
            outcome.withLock { $0 = continuation }
            let work = Task {
                let result: Swift.Result<Result, any Error>
                do {
                    result = .success(try await client.withConnection { try await body($0) })
                } catch {
                    result = .failure(error)
                }
                outcome.withLock { pending in
                    pending?.resume(with: result)
                    pending = nil
                }
            }
            Task {
                try? await Task.sleep(for: timeout)
                let late = outcome.withLock { pending -> CheckedContinuation<Result, any Error>? in
                    defer { pending = nil }
                    return pending
                }
                guard let late else { return }
                work.cancel()   // a wait for a connection stops; a query under way ends by statement_timeout
                logger.error("PostgreSQL did not answer in time", metadata: ["operation": "\(what)", "timeout": "\(timeout)"])
                late.resume(throwing: PostgresStorageError.timedOut(what))
            }
        }
    }

    /// Runs `body` in a transaction (committed when it returns, rolled back when it throws).
    func transaction<Result: Sendable>(_ what: String, isolation: String? = nil,
                                       _ body: @escaping @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
        try await run(what) { connection in
            try await connection.query(isolation == "REPEATABLE READ" ? "BEGIN ISOLATION LEVEL REPEATABLE READ" : "BEGIN", logger: self.logger)
            do {
                let result = try await body(connection)
                try await connection.query("COMMIT", logger: self.logger)
                return result
            } catch {
                do {
                    try await connection.query("ROLLBACK", logger: self.logger)
                } catch {
                    // Not back to the pool in the middle of a transaction.
                    try? await connection.close()
                }
                throw error
            }
        }
    }

    /// Sets an account's roster version (`xmppctl migrate` keeps the versions clients have cached: a version a client
    /// holds must never come back with other items).
    public func setRosterVersion(_ version: Int, of user: String) async throws {
        let logger = self.logger
        try await run("set roster version") { connection in
            try await connection.query("""
                INSERT INTO roster_version (username, version) VALUES (\(user), \(version))
                ON CONFLICT (username) DO UPDATE SET version = GREATEST(roster_version.version, excluded.version)
                """, logger: logger)
        }
    }

    /// The schema name for a domain: `xmppd_`, the domain's letters and digits (readable, at most 30), and 16 hex digits of
    /// the SHA-256 of the domain, so no two domains share one (`chat.example.com` and `chat-example.com` differ).
    public static func schema(for domain: String) -> String {
        let name = domain.lowercased()
        let readable = String(name.map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" }.prefix(30))
        let digest = SHA256.hash(data: Data(name.utf8)).prefix(8).map { String(format: "%02x", $0) }.joined()
        return "xmppd_\(readable)_\(digest)"
    }
}

/// Why a PostgreSQL storage call failed beyond what the database said.
public enum PostgresStorageError: Error, CustomStringConvertible, Sendable {
    case timedOut(String)
    case badSettings(String)

    public var description: String {
        switch self {
        case .timedOut(let what): "PostgreSQL did not answer in time (\(what))"
        case .badSettings(let why): why
        }
    }
}

extension PostgresConnection {
    /// Every row of `query`.
    @discardableResult
    func rows(_ query: PostgresQuery, logger: Logger) async throws -> [PostgresRow] {
        var rows: [PostgresRow] = []
        for try await row in try await self.query(query, logger: logger) { rows.append(row) }
        return rows
    }
}
