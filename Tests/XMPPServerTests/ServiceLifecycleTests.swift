import Foundation
import Logging
import ServiceLifecycle
import Testing
import XMPPCore
import NIOCore
import NIOPosix
import XMPPServer
import XMPPServerKernel

/// The server as a group of services: under a ServiceGroup (as xmppd runs it), graceful shutdown stops the
/// listeners and the admin socket first, then closes every session with system-shutdown.
@Suite struct ServiceLifecycleTests {
    @Test func gracefulShutdownStopsListenersThenClosesSessions() async throws {
        var configuration = ServerConfiguration()
        configuration.dataDirectory = NSTemporaryDirectory() + "xmppd-services-" + UUID().uuidString
        configuration.bindAddresses = ["127.0.0.1"]
        configuration.c2sPort = 0
        configuration.c2sTLSPort = 0
        configuration.httpPort = 0
        configuration.httpsPort = 0
        configuration.storage = "memory"
        try ConfigFile.set("proxy_port", to: "0", in: &configuration)
        try ConfigFile.set("s2s_port", to: "0", in: &configuration)
        defer { try? FileManager.default.removeItem(atPath: configuration.dataDirectory) }
        var logger = Logger(label: "services-test")
        logger.logLevel = .warning
        let server = try XMPPServer(configuration: configuration, logger: logger)
        #expect(server.services.map(\.name) == ["sessions", "c2s", "web", "components", "proxy65", "s2s", "admin socket"])
        try await server.start()
        let port = try #require(server.boundPorts.first)
        #expect(FileManager.default.fileExists(atPath: server.adminSocketPath))
        let session = EndingSession(jid: try JID("alice@localhost/phone"), kernel: server.kernel)
        try server.kernel.bind(session)

        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: server.services.map { .init(service: $0) }, logger: logger))
        let running = Task { try await group.run() }
        try await Task.sleep(for: .milliseconds(100))
        #expect(session.closedWith == nil, "running: nothing closed yet")
        await group.triggerGracefulShutdown()
        try await running.value

        #expect(server.boundPorts.isEmpty)
        #expect(server.web.httpPorts.isEmpty && server.web.httpsPorts.isEmpty, "the web listeners stopped too")
        #expect(throws: (any Error).self) { try Socket(port: port) }
        #expect(session.closedWith?.condition == .systemShutdown)
        #expect(server.kernel.registry.count == 0, "shutdown waited for the session to end")
    }
}

/// A session that ends (leaves the registry) when the server closes it, as a connection does.
final class EndingSession: ClientSession {
    let jid: JID
    let eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.next()
    private let kernel: ServerKernel
    private let closure = Locked<StreamError?>(nil)

    init(jid: JID, kernel: ServerKernel) {
        self.jid = jid
        self.kernel = kernel
    }

    func deliver(_ element: Element) {}

    func close(with error: StreamError?) {
        closure.withLock { $0 = error }
        eventLoop.execute { _ = self.kernel.sessionEnded(self, reason: .closedByServer(error?.condition ?? .undefinedCondition)) }
    }

    var closedWith: StreamError? { closure.withLock { $0 } }
}
