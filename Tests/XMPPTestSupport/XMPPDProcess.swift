import Foundation

/// A real `xmppd` process (built beside the tests) on a loopback port, with TLS and its generated certificate, for
/// tests that kill or stop the server under its clients: `kill -9`, SIGTERM, and a start again on the same data.
public final class XMPPDProcess: @unchecked Sendable {
    /// The STARTTLS port.
    public let port: Int
    /// The data directory (database, certificate).
    public let directory: String
    /// The certificate clients must trust.
    public var certificatePath: String { "\(directory)/localhost.crt" }
    private let extraArguments: [String]
    private var process: Process?

    /// The running process's id, for a test that signals it itself.
    public var pid: Int32? { process?.processIdentifier }

    /// Starts xmppd on `port` (open registration, no direct-TLS listener, and `extraArguments`) over a new data
    /// directory.
    public static func start(port: Int, extraArguments: [String] = []) async throws -> XMPPDProcess {
        let directory = NSTemporaryDirectory() + "xmppd-process-" + UUID().uuidString
        let server = XMPPDProcess(port: port, directory: directory, extraArguments: extraArguments)
        try await server.start()
        return server
    }

    private init(port: Int, directory: String, extraArguments: [String]) {
        self.port = port
        self.directory = directory
        self.extraArguments = extraArguments
    }

    /// Starts (again) on the same port and data; returns once it listens.
    public func start() async throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: builtExecutable("xmppd"))
        process.arguments = ["--data-dir", directory, "--bind", "127.0.0.1", "--c2s-port", String(port), "--c2s-tls-port", "off",
                             "--http-port", "off", "--https-port", "off", "--set", "proxy_port=0", "--set", "s2s_port=0", "--registration", "open", "--log-level", "error"] + extraArguments
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        self.process = process
        let pid = process.processIdentifier
        guard await ProsodyServer.waitUntil(seconds: 20, { LoopbackPort.isListening(port: self.port, byProcess: pid) || !ProsodyServer.isAlive(pid: pid) }),
              LoopbackPort.isListening(port: self.port, byProcess: pid) else {
            throw TestSetupError("xmppd did not listen on \(port)")
        }
    }

    /// Kills the server at once (`kill -9`): no stream is closed, no TLS close_notify is sent.
    public func kill9() async {
        await signal(SIGKILL)
    }

    /// Stops the server as an operator would (SIGTERM): streams are closed with `system-shutdown`.
    public func terminate() async {
        await signal(SIGTERM)
    }

    /// Stops the server (SIGKILL if SIGTERM is not enough) and removes its data.
    public func stop() async {
        await signal(SIGTERM)
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func signal(_ signal: Int32) async {
        guard let pid = process?.processIdentifier else { return }
        kill(pid, signal)
        if await !ProsodyServer.waitUntil(seconds: 10, { !ProsodyServer.isAlive(pid: pid) }) { kill(pid, SIGKILL) }
        _ = await ProsodyServer.waitUntil(seconds: 10) { !ProsodyServer.isAlive(pid: pid) && !LoopbackPort.isListening(port: self.port) }
        process = nil
    }
}
