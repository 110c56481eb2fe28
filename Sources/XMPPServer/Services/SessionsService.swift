import Logging
import Atomics
import XMPPCore
import XMPPServerKernel
import XMPPServerSQLite
import XMPPServerPostgres

/// The kernel's sessions and the storage under them: stopped last, after the listeners. Stopping tells the hosted
/// services (chat rooms say 332 to their occupants), closes every stream with `system-shutdown`, lets the last
/// writes land and checkpoints the database.
public final class SessionsService: ServerService, Sendable {
    public let name = "sessions"
    private let kernel: ServerKernel
    private let database: SQLiteDatabase?
    private let postgres: PostgresDatabase?
    private let logger: Logger
    private let stopped = ManagedAtomic<Bool>(false)
    private let started = ManagedAtomic<Bool>(false)

    init(kernel: ServerKernel, database: SQLiteDatabase?, postgres: PostgresDatabase? = nil, logger: Logger) {
        self.kernel = kernel
        self.database = database
        self.postgres = postgres
        self.logger = logger
    }

    /// With PostgreSQL: connects and migrates the domain's schema before anything listens; on a cluster node, then
    /// joins the cluster.
    public func start() async throws {
        // Started by the server before it reports serving, then again as a member of the service group (run()).
        guard !started.exchange(true, ordering: .acquiringAndReleasing) else { return }
        if let postgres {
            do {
                try await postgres.prepare()
            } catch {
                postgres.shutdown()
                throw PostgresStartError(domain: kernel.configuration.domain, cause: "\(String(reflecting: error))")
            }
        }
        if let cluster = kernel.clusterLink {
            do {
                try await cluster.start(kernel: kernel)
            } catch {
                postgres?.shutdown()
                throw error
            }
        }
    }

    public func stop() async {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        logger.notice("shutting down", metadata: ["sessions": "\(kernel.registry.count)"])
        kernel.closeAllSessions(with: StreamError(.systemShutdown, text: "the server is shutting down"))
        // Every session gone and what it started done (last activity, presence, offline writes), within reason.
        if !(await kernel.settle(timeout: .seconds(5))) {
            logger.warning("shutdown went on with work still under way", metadata: ["sessions": "\(kernel.registry.count)"])
        }
        await kernel.clusterLink?.stop()
        do {
            try database?.checkpoint()
        } catch {
            logger.warning("database checkpoint failed", metadata: ["error": "\(error)"])
        }
        postgres?.shutdown()
        logger.notice("stopped")
    }
}

/// The PostgreSQL database could not be reached or migrated at start.
struct PostgresStartError: Error, CustomStringConvertible {
    var domain: String
    var cause: String
    var description: String { "the PostgreSQL database for \(domain) cannot be used (check postgresql_url and that the server runs): \(cause)" }
}
