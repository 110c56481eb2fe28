import ServiceLifecycle

/// One part of a running server that listens or holds resources (the c2s listeners, the admin socket, the
/// kernel's sessions and storage; HTTP and s2s later). Each is a swift-service-lifecycle `Service`: `run()` starts
/// it if ``start()`` has not, waits for graceful shutdown and then stops it, so a `ServiceGroup` runs them all and
/// stops them in reverse order (listeners first, then the sessions and storage they fed).
public protocol ServerService: Service {
    /// A name for logs.
    var name: String { get }
    /// Binds or opens what the service needs; called once, before traffic. Idempotent.
    func start() async throws
    /// Stops the service; afterwards nothing of it runs. Idempotent.
    func stop() async
}

extension ServerService {
    /// Starts the service (unless already started), waits for graceful shutdown or cancellation, then stops it.
    public func run() async throws {
        try await start()
        try? await gracefulShutdown()
        await stop()
    }
}
