import Foundation
import XMPPCore

/// Prosody from Debian, started for a test on a free loopback port with its own configuration, certificate
/// (self-signed, CA:TRUE so TLS clients can trust it as a root) and data directory; stopped by PID.
/// Open registration is on, so clients create their own accounts; its multi-user chat service is
/// `conference.localhost`, as xmppd's is; accounts have PEP (with XEP-0402/XEP-0048 bookmarks kept in step, and
/// XEP-0398 vCard/PEP avatar conversion), and `pubsub.localhost` is a publish-subscribe service.
public final class ProsodyServer: Sendable {
    /// The c2s (STARTTLS) port.
    public let port: Int
    /// The plain HTTP port, where mod_websocket serves XMPP over WebSocket (counted as secure: loopback only).
    public let httpPort: Int
    /// Prosody's XMPP over WebSocket endpoint (RFC 7395).
    public var webSocketURL: URL { URL(string: "ws://127.0.0.1:\(httpPort)/xmpp-websocket")! }
    /// The working directory.
    public let directory: String
    /// The certificate clients must trust.
    public var certificatePath: String { "\(directory)/localhost.crt" }
    private let running: Locked<Process>

    /// Prosody's process id.
    public var pid: Int32 { running.withLock { $0.processIdentifier } }

    private init(port: Int, httpPort: Int, directory: String, process: Process) {
        self.port = port
        self.httpPort = httpPort
        self.directory = directory
        self.running = Locked(process)
    }

    /// Runs Prosody on the configuration in `directory`.
    private static func launch(_ directory: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/prosody")
        process.arguments = ["--config", "\(directory)/prosody.cfg.lua", "-F"]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        process.standardError = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        return process
    }

    /// Whether the running process listens on the port within 20 s (false when it exited first).
    private func comesUp() async throws -> Bool {
        let process = running.withLock { $0 }
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            // Its own listeners, not whatever else may answer on the ports: c2s, and HTTP (bound a moment later).
            let pid = process.processIdentifier
            if LoopbackPort.isListening(port: port, byProcess: pid) && LoopbackPort.isListening(port: httpPort, byProcess: pid) { return true }
            if !Self.isAlive(pid: process.processIdentifier) { return false }
            try await Task.sleep(for: .milliseconds(100))
        }
        return false
    }

    /// Kills Prosody at once (`kill -9`: no stream is closed, no TLS close_notify) and waits until it is gone.
    public func kill9() async {
        await signal(SIGKILL)
    }

    /// Stops Prosody as an operator would (SIGTERM: streams end with `system-shutdown`) and waits until it is gone;
    /// its data stays for ``restart()``.
    public func terminate() async {
        await signal(SIGTERM)
    }

    /// Starts Prosody again on the same port, configuration and data; returns once it listens.
    public func restart() async throws {
        let process = try Self.launch(directory)
        running.withLock { $0 = process }
        guard try await comesUp() else { throw TestSetupError("prosody did not come back on port \(port)") }
    }

    private func signal(_ signal: Int32) async {
        let pid = self.pid
        kill(pid, signal)
        if await !Self.waitUntil(seconds: 10, { !Self.isAlive(pid: pid) }) { kill(pid, SIGKILL) }
        _ = await Self.waitUntil(seconds: 10) { !Self.isAlive(pid: pid) && !LoopbackPort.isListening(port: self.port) }
    }

    /// Starts Prosody and waits until it accepts connections.
    /// - Throws: ``TestSetupError`` when prosody or openssl is missing (`.ci/run` installs them) or it does
    ///   not come up.
    /// The largest file its HTTP upload service (`upload.localhost`, mod_http_file_share over plain HTTP) takes.
    public static let uploadSizeLimit = 1_048_576

    /// Federation for a test: Prosody listens for servers on `s2sPort` and reaches each domain of `hosts` (and its
    /// subdomains) at 127.0.0.1 on the given port, through a small module of the fixture's that stands in for DNS.
    /// With `authority`, Prosody's certificate comes from it (for `localhost` and its components), Prosody trusts it
    /// for remote servers and authenticates them only by certificate (`s2s_secure_auth`).
    public struct Federation: Sendable {
        public let s2sPort: Int
        public let hosts: [String: Int]
        public let authority: TestCertificateAuthority?
        public init(s2sPort: Int, hosts: [String: Int], authority: TestCertificateAuthority? = nil) {
            self.s2sPort = s2sPort
            self.hosts = hosts
            self.authority = authority
        }
    }

    /// The Prosody module that answers `xmpp-server` lookups for the domains in `test_s2s_hosts` with a loopback port
    /// (Prosody/mod_test_s2s_hosts.lua, beside this file; benchmarks/federation.sh uses it too).
    static let resolverOverrideModule = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Prosody/mod_test_s2s_hosts.lua")

    public static func start(federation: Federation? = nil) async throws -> ProsodyServer {
        guard FileManager.default.fileExists(atPath: "/usr/bin/prosody") else {
            throw TestSetupError("prosody is not installed: apt-get install prosody (.ci/run does)")
        }
        let directory = NSTemporaryDirectory() + "prosody-test-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory + "/data", withIntermediateDirectories: true)
        if let authority = federation?.authority {
            try authority.issue(["localhost", "conference.localhost", "pubsub.localhost", "upload.localhost"],
                                certificatePath: "\(directory)/localhost.crt", keyPath: "\(directory)/localhost.key")
        } else {
            let certificate = try await runProcess([
                "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", "\(directory)/localhost.key", "-out", "\(directory)/localhost.crt", "-days", "2",
                "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=digitalSignature,keyCertSign",
            ], timeout: 30)
            guard certificate.status == 0 else { throw TestSetupError("openssl: \(certificate.output)") }
        }
        let port = try LoopbackPort.free()
        let httpPort = try LoopbackPort.free()
        let proxyPort = try LoopbackPort.free()
        let configuration = """
            run_as_root = true
            daemonize = false
            pidfile = "\(directory)/prosody.pid"
            data_path = "\(directory)/data"
            log = { { levels = { min = "warn" }, to = "file", filename = "\(directory)/prosody.log" } }
            interfaces = { "127.0.0.1" }
            c2s_ports = { \(port) }
            c2s_direct_tls_ports = { }
            s2s_ports = { \(federation.map { String($0.s2sPort) } ?? "") }
            component_ports = { }
            http_ports = { \(httpPort) }
            -- (Network services' ports are global options: under the Component they would be ignored, and every
            -- Prosody of a test run would try the default port 5000.)
            proxy65_ports = { \(proxyPort) }
            proxy65_interfaces = { "127.0.0.1" }
            http_interfaces = { "127.0.0.1" }
            https_ports = { }
            consider_websocket_secure = true
            modules_enabled = {
              "roster"; "saslauth"; "tls"; "disco"; "ping"; "presence"; "message"; "iq"; "register"; "vcard_legacy";
              "offline"; "posix"; "blocklist"; "smacks"; "carbons"; "mam"; "csi_simple"; "admin_adhoc"; "announce";
              "pep"; "private"; "bookmarks"; "websocket"; \(federation == nil ? "" : "\"test_s2s_hosts\"; \"dialback\";")
            }
            plugin_paths = { "\(directory)" }
            test_s2s_hosts = { \(federation?.hosts.map { "[\"\($0.key)\"] = \($0.value);" }.joined(separator: " ") ?? "") }
            s2s_require_encryption = true
            s2s_secure_auth = \(federation?.authority == nil ? "false" : "true")
            admins = { "admin@localhost" }
            modules_disabled = { \(federation == nil ? "\"s2s\"; \"dialback\"; " : "")"limits"; "bosh" }
            default_archive_policy = true
            authentication = "internal_hashed"
            storage = "internal"
            c2s_require_encryption = true
            allow_registration = true
            min_seconds_between_registrations = 0
            registration_throttle_max = 1000
            certificates = "\(directory)"
            ssl = { certificate = "\(directory)/localhost.crt"; key = "\(directory)/localhost.key";
                    \(federation?.authority.map { "cafile = \"\($0.certificatePath)\";" } ?? "") }
            VirtualHost "localhost"
            Component "conference.localhost" "muc"
              modules_enabled = { "muc_mam" }
              muc_room_default_history_length = 20
            Component "pubsub.localhost" "pubsub"
            Component "upload.localhost" "http_file_share"
              http_host = "localhost"
              http_file_share_size_limit = \(uploadSizeLimit)
            Component "proxy.localhost" "proxy65"
              proxy65_address = "127.0.0.1"
            """
        try configuration.write(toFile: "\(directory)/prosody.cfg.lua", atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(atPath: resolverOverrideModule.path, toPath: "\(directory)/mod_test_s2s_hosts.lua")
        let server = ProsodyServer(port: port, httpPort: httpPort, directory: directory, process: try launch(directory))
        if try await server.comesUp() { return server }
        let log = (try? String(contentsOfFile: "\(directory)/prosody.log", encoding: .utf8)) ?? ""
        await server.stop()
        throw TestSetupError("prosody did not come up on port \(port): \(log)")
    }

    /// Starts Prosody, runs `body` with it, and stops it whether `body` returns or throws.
    /// Waits for a place in ``TestGate/servers`` first (none is taken twice by one test).
    public static func with<Result>(federation: Federation? = nil, _ body: (ProsodyServer) async throws -> Result) async throws -> Result {
        try await TestGate.servers.run { try await withNow(federation: federation, body) }
    }

    private static func withNow<Result>(federation: Federation?, _ body: (ProsodyServer) async throws -> Result) async throws -> Result {
        let prosody = try await start(federation: federation)
        do {
            let result = try await body(prosody)
            await prosody.stop()
            return result
        } catch {
            await prosody.stop()
            throw error
        }
    }

    /// Stops Prosody and removes its directory: SIGTERM to its PID, SIGKILL when it has not exited after 3 s,
    /// then waits (up to 10 s) until its port is closed, so a caller can rely on it being gone.
    ///
    /// It signals the pid itself: Foundation's `isRunning`/`terminate()` did not stop processes in time on Linux.
    /// It waits with `Task.sleep`, so it never holds one of the few cooperative threads.
    public func stop() async {
        let pid = self.pid
        kill(pid, SIGTERM)
        if await !Self.waitUntil(seconds: 3, { !Self.isAlive(pid: pid) }) { kill(pid, SIGKILL) }
        _ = await Self.waitUntil(seconds: 10) { !Self.isAlive(pid: pid) && !LoopbackPort.isListening(port: self.port) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// Whether `pid` is a process that still runs: a zombie (exited, not yet reaped) counts as gone.
    static func isAlive(pid: Int32) -> Bool {
        guard kill(pid, 0) == 0 else { return false }
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let afterName = stat.lastIndex(of: ")") else { return true }
        let state = stat[stat.index(after: afterName)...].trimmingCharacters(in: .whitespaces).first
        return state != "Z" && state != "X"
    }

    /// Polls `condition` every 50 ms until it holds or `seconds` pass; whether it held.
    static func waitUntil(seconds: Double, _ condition: () -> Bool) async -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return condition()
    }
}
