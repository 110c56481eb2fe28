import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresNIO
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
    let logger: Logger
    private let runner: Task<Void, Never>
    /// How long one storage operation may take, connection included.
    public let operationTimeout: Duration

    /// Sets up a pool to the database `settings` names, in `schema`; nothing connects until ``prepare()``.
    public init(settings: PostgresSettings, schema: String, logger: Logger, operationTimeout: Duration = .seconds(5)) throws {
        var configuration = PostgresClient.Configuration(host: settings.host, port: settings.port, username: settings.username,
                                                         password: settings.password, database: settings.database,
                                                         tls: try settings.clientTLS())
        configuration.options.maximumConnections = settings.maxConnections
        configuration.options.connectTimeout = .seconds(5)
        // Unqualified table names are this domain's.
        configuration.options.additionalStartupParameters = [("search_path", schema)]
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.schema = schema
        self.logger = logger
        self.operationTimeout = operationTimeout
        runner = Task { await client.run() }
    }

    /// Connects, creates the schema if missing and migrates it (the server's start waits for this); throws when the
    /// database cannot be reached within `timeout`.
    public func prepare(timeout: Duration = .seconds(30)) async throws {
        try await PostgresMigrations.migrate(self, timeout: timeout)
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

    /// Runs `body` with a pooled connection, giving up after ``operationTimeout`` with ``PostgresStorageError/timedOut``.
    func run<Result: Sendable>(_ what: String, timeout: Duration? = nil,
                               _ body: @escaping @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
        let (client, timeout, logger) = (self.client, timeout ?? operationTimeout, self.logger)
        return try await withThrowingTaskGroup(of: Result?.self) { group in
            group.addTask { try await client.withConnection { try await body($0) } }
            group.addTask {
                try await Task.sleep(for: timeout)
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let result = first else {
                logger.error("PostgreSQL did not answer in time", metadata: ["operation": "\(what)", "timeout": "\(timeout)"])
                throw PostgresStorageError.timedOut(what)
            }
            return result
        }
    }

    /// Runs `body` in a transaction (committed when it returns, rolled back when it throws).
    func transaction<Result: Sendable>(_ what: String, _ body: @escaping @Sendable (PostgresConnection) async throws -> Result) async throws -> Result {
        try await run(what) { connection in
            try await connection.query("BEGIN", logger: self.logger)
            do {
                let result = try await body(connection)
                try await connection.query("COMMIT", logger: self.logger)
                return result
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: self.logger)
                throw error
            }
        }
    }

    /// The schema name for a domain: `xmppd_` and the domain with every character but letters and digits as `_`.
    public static func schema(for domain: String) -> String {
        "xmppd_" + String(domain.lowercased().map { $0.isASCII && ($0.isLetter || $0.isNumber) ? $0 : "_" })
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
