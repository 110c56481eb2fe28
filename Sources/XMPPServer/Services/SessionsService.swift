import Logging
import Atomics
import XMPPCore
import XMPPServerKernel
import XMPPServerSQLite

/// The kernel's sessions and the storage under them: stopped last, after the listeners. Stopping tells the hosted
/// services (chat rooms say 332 to their occupants), closes every stream with `system-shutdown`, lets the last
/// writes land and checkpoints the database.
public final class SessionsService: ServerService, Sendable {
    public let name = "sessions"
    private let kernel: ServerKernel
    private let database: SQLiteDatabase?
    private let logger: Logger
    private let stopped = ManagedAtomic<Bool>(false)

    init(kernel: ServerKernel, database: SQLiteDatabase?, logger: Logger) {
        self.kernel = kernel
        self.database = database
        self.logger = logger
    }

    public func start() async throws {}

    public func stop() async {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        logger.notice("shutting down", metadata: ["sessions": "\(kernel.registry.count)"])
        kernel.closeAllSessions(with: StreamError(.systemShutdown, text: "the server is shutting down"))
        // Every session gone and what it started done (last activity, presence, offline writes), within reason.
        if !(await kernel.settle(timeout: .seconds(5))) {
            logger.warning("shutdown went on with work still under way", metadata: ["sessions": "\(kernel.registry.count)"])
        }
        do {
            try database?.checkpoint()
        } catch {
            logger.warning("database checkpoint failed", metadata: ["error": "\(error)"])
        }
        logger.notice("stopped")
    }
}
