import Foundation

/// A redis-server from Debian (`redis-server`) on a free loopback port for one test, without persistence, stopped by PID.
/// Used by RedisClientTests and ClusterTests; FixtureTests.redisLifecycle tests the fixture itself.
public final class RedisTestServer: Sendable {
    /// The port it listens on (127.0.0.1).
    public let port: Int
    /// Its process id.
    public let pid: Int32
    /// Its working directory (removed at stop).
    public let directory: String

    /// What a server that speaks TLS only (`tls-port`, no plain port) needs: its certificate and key, and the
    /// authorities whose client certificates it accepts.
    public struct TLSFiles: Sendable {
        /// The server's certificate (PEM), naming the host clients connect to.
        public var certificate: String
        /// Its private key (PEM).
        public var privateKey: String
        /// The authorities (PEM) whose client certificates the server accepts.
        public var certificateAuthorities: String
        /// Whether a client must present a certificate (`tls-auth-clients yes`, Redis's default) or may (`optional`).
        public var clientsMustAuthenticate: Bool

        /// The files, by path; clients must present a certificate unless `clientsMustAuthenticate` is false.
        public init(certificate: String, privateKey: String, certificateAuthorities: String, clientsMustAuthenticate: Bool = true) {
            self.certificate = certificate
            self.privateKey = privateKey
            self.certificateAuthorities = certificateAuthorities
            self.clientsMustAuthenticate = clientsMustAuthenticate
        }

        /// redis-server's arguments for them, on `port`.
        func arguments(port: Int) -> [String] {
            ["--port", "0", "--tls-port", String(port), "--tls-cert-file", certificate, "--tls-key-file", privateKey,
             "--tls-ca-cert-file", certificateAuthorities, "--tls-auth-clients", clientsMustAuthenticate ? "yes" : "optional"]
        }
    }

    private init(port: Int, pid: Int32, directory: String) {
        self.port = port
        self.pid = pid
        self.directory = directory
    }

    /// Starts a server on a free port, or on `port` (the port of one stopped before: a restart); with `tls`, the port
    /// is its TLS port and there is no plain one.
    public static func start(port: Int? = nil, tls: TLSFiles? = nil) async throws -> RedisTestServer {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/redis-server") else {
            throw TestSetupError("redis-server is not installed: apt-get install redis-server (.ci/run does)")
        }
        let directory = NSTemporaryDirectory() + "redis-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let port = try port ?? LoopbackPort.free()
        let log = "\(directory)/redis.log"
        FileManager.default.createFile(atPath: log, contents: nil)
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/redis-server")
        process.arguments = (tls?.arguments(port: port) ?? ["--port", String(port)])
            + ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", directory, "--daemonize", "no"]
        process.standardOutput = output
        process.standardError = output
        process.standardInput = FileHandle.nullDevice
        try process.run()
        try output.close()
        let deadline = Date().addingTimeInterval(30)
        while !LoopbackPort.isListening(port: port) {
            guard Date() < deadline else { throw TestSetupError("redis-server did not start: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")") }
            try await Task.sleep(for: .milliseconds(50))
        }
        return RedisTestServer(port: port, pid: process.processIdentifier, directory: directory)
    }

    /// Stops the server by PID and waits until its port is closed.
    public func stop() async {
        kill(pid, SIGKILL)
        let deadline = Date().addingTimeInterval(10)
        while LoopbackPort.isListening(port: port), Date() < deadline { try? await Task.sleep(for: .milliseconds(50)) }
        try? FileManager.default.removeItem(atPath: directory)
    }
}
