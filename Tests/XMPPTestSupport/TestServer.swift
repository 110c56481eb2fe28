import Foundation
import Logging
import XMPPServer
import XMPPServerPostgres
import XMPPServerKernel
import XMPPCore

/// Why a test fixture could not be set up.
public struct TestSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// An xmppd on ephemeral loopback ports with its own temporary data directory, for one test.
public struct TestServer: Sendable {
    public let server: XMPPServer
    public let directory: String
    /// What it was started with, for ``restarted()``.
    public let configuration: ServerConfiguration
    /// The modules it runs (``StandardModules/all`` unless the test chose fewer).
    public let modules: [any ServerModule]

    /// The STARTTLS port.
    public var port: Int { server.boundPorts[0] }
    /// The direct-TLS port.
    public var tlsPort: Int { server.boundPorts[1] }
    /// The plain HTTP port of the web listener (XMPP over WebSocket), when it is on.
    public var httpPort: Int? { server.web.httpPorts.first }
    /// The external component port (XEP-0114), when a test configured components.
    public var componentPort: Int? { server.components.boundPorts.first }
    /// The HTTPS port of the web listener, when a test turned it on.
    public var httpsPort: Int? { server.web.httpsPorts.first }
    /// The generated certificate, for clients to trust.
    public var certificatePath: String { "\(directory)/\(configuration.domain).crt" }

    public static func start(storage: String = "sqlite", modules: [any ServerModule] = StandardModules.all,
                             configure: (inout ServerConfiguration) -> Void = { _ in }) async throws -> TestServer {
        let directory = NSTemporaryDirectory() + "xmppd-test-" + UUID().uuidString
        var configuration = ServerConfiguration()
        configuration.dataDirectory = directory
        configuration.bindAddresses = ["127.0.0.1"]
        configuration.c2sPort = 0
        configuration.c2sTLSPort = 0
        configuration.httpPort = 0
        configuration.httpsPort = nil
        configuration.storage = storage
        if storage == "postgresql" {
            // A database of its own in the tests' PostgreSQL cluster.
            configuration.postgres = try PostgresSettings(url: try await PostgresTestServer.shared().newDatabase())
        }
        configuration.kernel.registration = .open
        // The SOCKS5 proxy on a free port: test servers run side by side.
        try ConfigFile.set("proxy_port", to: "0", in: &configuration)
        // Federation on a free port too; remote domains are reached only through s2s_hosts a test sets.
        try ConfigFile.set("s2s_port", to: "0", in: &configuration)
        configure(&configuration)
        return try await start(configuration, modules: modules)
    }

    private static func start(_ configuration: ServerConfiguration, modules: [any ServerModule]) async throws -> TestServer {
        var logger = Logger(label: "xmppd-test")
        // XMPPD_TEST_LOG=1 shows the servers' info and notice lines (stream setup, federation) when debugging a test.
        logger.logLevel = ProcessInfo.processInfo.environment["XMPPD_TEST_LOG"] == "1" ? .info : .warning
        let server = try XMPPServer(configuration: configuration, logger: logger, modules: modules)
        try await server.start()
        // One STARTTLS and one direct-TLS listener on 127.0.0.1, and the certificate clients must trust.
        guard server.boundPorts.count == 2 else { throw TestSetupError("listeners: \(server.boundPorts)") }
        let directory = configuration.dataDirectory
        guard FileManager.default.fileExists(atPath: "\(directory)/\(configuration.domain).crt") else { throw TestSetupError("no certificate") }
        return TestServer(server: server, directory: directory, configuration: configuration, modules: modules)
    }

    /// Shuts the server down as SIGTERM would and starts it again on the same ports, data and certificate.
    public func restarted() async throws -> TestServer {
        var configuration = configuration
        configuration.c2sPort = port
        configuration.c2sTLSPort = tlsPort
        if configuration.httpPort != nil { configuration.httpPort = server.web.httpPorts.first }
        if configuration.httpsPort != nil { configuration.httpsPort = server.web.httpsPorts.first }
        await server.shutdown()
        return try await Self.start(configuration, modules: modules)
    }

    /// The standard modules but those named (``ServerModule/name``): a server without those features.
    public static func modules(except names: Set<String>) -> [any ServerModule] {
        StandardModules.all.filter { !names.contains($0.name) }
    }

    /// Creates an account straight in the server's storage (for a server that does not register accounts in-band).
    public func createAccount(_ user: String, password: String) async throws {
        _ = try await server.kernel.createAccount(user, password: password)
    }

    /// The SHA-256 fingerprint of the server's certificate, colon-separated hex.
    public var certificateFingerprint: String { server.tls.fingerprint }

    /// Shuts the server down and removes its data directory.
    public func stop() async {
        await server.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// The path of one of the package's executables (`xmpp`, `xmppctl`, `xmppd`), built beside the tests.
public func builtExecutable(_ name: String) -> String {
    let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent(name).path
    return FileManager.default.isExecutableFile(atPath: beside) ? beside
        : URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../.build/debug/\(name)").path
}

/// Runs a command with a deadline and returns its exit status and combined output; `input`, if given, is its
/// standard input (then end of file). The wait happens on a
/// Dispatch thread: blocking the cooperative pool would starve the in-process server's tasks.
public func runProcess(_ arguments: [String], input: String? = nil, timeout: TimeInterval) async throws -> (status: Int32, output: String) {
    // A process (a client tool, Prosody's openssl) is as heavy as a scenario: it takes a place in the gate, unless
    // the scenario that runs it holds one already.
    try await TestGate.servers.run {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(with: Result { try runProcessBlocking(arguments, input: input, timeout: timeout) })
            }
        }
    }
}

/// ``runProcess(_:input:timeout:)`` without taking a place in ``TestGate/servers``: for short setup commands of fixtures
/// that may be started from inside a place already held (a database for a test server).
func runProcessUngated(_ arguments: [String], timeout: TimeInterval) async throws -> (status: Int32, output: String) {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(with: Result { try runProcessBlocking(arguments, input: nil, timeout: timeout) })
        }
    }
}

private func runProcessBlocking(_ arguments: [String], input: String?, timeout: TimeInterval) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    let inputPipe = input.map { _ in Pipe() }
    if let inputPipe { process.standardInput = inputPipe }
    try process.run()
    if let input, let inputPipe {
        inputPipe.fileHandleForWriting.write(Data(input.utf8))
        try inputPipe.fileHandleForWriting.close()
    }
    // Signal the pid itself: Foundation's isRunning/terminate() did not stop the process in time on Linux.
    let pid = process.processIdentifier
    let deadline = DispatchWorkItem { kill(pid, SIGKILL) }
    DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: deadline)
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    deadline.cancel()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}

extension TestServer {
    /// Ends every session of `user` with a stream error, as a server going down would; the client sees the
    /// connection end without having asked for it.
    public func dropSessions(of user: String, condition: StreamError.Condition = .systemShutdown) {
        let kernel = server.kernel
        guard let jid = JID(validating: "\(user)@\(kernel.configuration.domain)") else { return }
        for entry in kernel.registry.entries(of: jid) { entry.session.close(with: StreamError(condition)) }
    }
}
