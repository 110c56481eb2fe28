import Foundation
import Logging
import Testing
import XMPPServer
import XMPPServerKernel

/// An xmppd on ephemeral loopback ports with its own temporary data directory, for one test.
struct TestServer {
    let server: XMPPServer
    let directory: String

    /// The STARTTLS port.
    var port: Int { server.boundPorts[0] }
    /// The direct-TLS port.
    var tlsPort: Int { server.boundPorts[1] }
    /// The generated certificate, for clients to trust.
    var certificatePath: String { "\(directory)/localhost.crt" }

    static func start(storage: String = "sqlite", configure: (inout ServerConfiguration) -> Void = { _ in }) async throws -> TestServer {
        let directory = NSTemporaryDirectory() + "xmppd-test-" + UUID().uuidString
        var configuration = ServerConfiguration()
        configuration.dataDirectory = directory
        configuration.bindAddresses = ["127.0.0.1"]
        configuration.c2sPort = 0
        configuration.c2sTLSPort = 0
        configuration.storage = storage
        configuration.kernel.registration = .open
        configure(&configuration)
        var logger = Logger(label: "xmppd-test")
        logger.logLevel = .warning
        let server = try XMPPServer(configuration: configuration, logger: logger)
        try await server.start()
        // One STARTTLS and one direct-TLS listener on 127.0.0.1, and the certificate clients must trust.
        try #require(server.boundPorts.count == 2, "listeners: \(server.boundPorts)")
        try #require(FileManager.default.fileExists(atPath: "\(directory)/localhost.crt"))
        return TestServer(server: server, directory: directory)
    }

    func stop() async {
        await server.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Runs a command with a deadline and returns its exit status and combined output. The wait happens on a
/// Dispatch thread: blocking the cooperative pool would starve the in-process server's tasks.
func runProcess(_ arguments: [String], timeout: TimeInterval) async throws -> (status: Int32, output: String) {
    try await withCheckedThrowingContinuation { continuation in
        DispatchQueue.global().async {
            continuation.resume(with: Result { try runProcessBlocking(arguments, timeout: timeout) })
        }
    }
}

private func runProcessBlocking(_ arguments: [String], timeout: TimeInterval) throws -> (status: Int32, output: String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let deadline = DispatchWorkItem { if process.isRunning { process.terminate() } }
    DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: deadline)
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    deadline.cancel()
    return (process.terminationStatus, String(decoding: data, as: UTF8.self))
}
