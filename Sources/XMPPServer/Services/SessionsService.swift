import Logging
import Synchronization
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
    private let stopped = Atomic<Bool>(false)

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
        // Let the closing tags reach the clients and the sessions' last writes reach storage.
        try? await Task.sleep(for: .milliseconds(300))
        do {
            try database?.checkpoint()
        } catch {
            logger.warning("database checkpoint failed", metadata: ["error": "\(error)"])
        }
        logger.notice("stopped")
    }
}
