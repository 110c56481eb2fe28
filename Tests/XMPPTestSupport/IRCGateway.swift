import Foundation
import XMPPCore

/// An IRC network and a gateway to it, from Debian, for a test: ngircd on 127.0.0.1:6667 and biboumi (XMPP ↔ IRC, an
/// external component, XEP-0114) serving `domain` through an XMPP server's component port. Biboumi reaches an IRC
/// server on the ports it knows (6667 for plain connections), so the IRC port is fixed: one gateway runs at a time in
/// this process (``with(domain:secret:componentPort:_:)`` waits for the previous one to stop). Stopped by PID.
public final class IRCGateway: Sendable {
    /// The IRC server's port on 127.0.0.1.
    public static let ircPort = 6667
    /// Whether a gateway of this process holds the IRC port.
    private static let inUse = Locked(false)
    private let ngircd: Int32
    private let biboumi: Int32
    /// The working directory (configurations, biboumi's log and database).
    public let directory: String

    private init(ngircd: Int32, biboumi: Int32, directory: String) {
        self.ngircd = ngircd
        self.biboumi = biboumi
        self.directory = directory
    }

    /// Starts ngircd and biboumi (which connects to the component port `componentPort` as `domain` with `secret`),
    /// runs `body`, and stops both whether `body` returns or throws.
    /// - Throws: ``TestSetupError`` when they are not installed (`.ci/run` installs them) or do not come up.
    public static func with<Result>(domain: String, secret: String, componentPort: Int,
                                    _ body: (IRCGateway) async throws -> Result) async throws -> Result {
        for program in ["/usr/sbin/ngircd", "/usr/bin/biboumi"] where !FileManager.default.fileExists(atPath: program) {
            throw TestSetupError("\(program) is not installed: apt-get install ngircd biboumi (.ci/run does)")
        }
        // One at a time: the IRC port is fixed.
        while !inUse.withLock({ busy in
            if busy { return false }
            busy = true
            return true
        }) {
            try await Task.sleep(for: .milliseconds(100))
        }
        defer { inUse.withLock { $0 = false } }
        let directory = NSTemporaryDirectory() + "irc-gateway-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try """
            [Global]
            Name = irc.test
            Info = SwiftXMPP gateway test
            AdminInfo1 = test
            Listen = 127.0.0.1
            Ports = \(ircPort)
            MotdPhrase = hello
            ServerUID = \(getuid())
            ServerGID = \(getgid())
            [Limits]
            MaxConnectionsIP = 0
            [Options]
            PAM = no
            Ident = no
            DNS = no
            """.write(toFile: "\(directory)/ngircd.conf", atomically: true, encoding: .utf8)
        try """
            hostname=\(domain)
            password=\(secret)
            xmpp_server_ip=127.0.0.1
            port=\(componentPort)
            realname_customization=true
            realname_from_jid=false
            log_file=\(directory)/biboumi.log
            log_level=1
            db_name=\(directory)/biboumi.sqlite
            identd_port=0
            policy_directory=/etc/biboumi/
            """.write(toFile: "\(directory)/biboumi.cfg", atomically: true, encoding: .utf8)
        guard !LoopbackPort.isListening(port: ircPort) else { throw TestSetupError("something listens on port \(ircPort) already") }
        let ngircd = try launch("/usr/sbin/ngircd", ["-n", "-f", "\(directory)/ngircd.conf"], log: "\(directory)/ngircd.out")
        guard await ProsodyServer.waitUntil(seconds: 20, { LoopbackPort.isListening(port: ircPort) }) else {
            await stop(ngircd)
            throw TestSetupError("ngircd did not come up on port \(ircPort)")
        }
        let biboumi: Int32
        do {
            biboumi = try launch("/usr/bin/biboumi", ["\(directory)/biboumi.cfg"], log: "\(directory)/biboumi.out")
        } catch {
            await stop(ngircd)
            throw error
        }
        let gateway = IRCGateway(ngircd: ngircd, biboumi: biboumi, directory: directory)
        do {
            let result = try await body(gateway)
            await gateway.stop()
            return result
        } catch {
            await gateway.stop()
            throw error
        }
    }

    /// biboumi's log, for failure messages.
    public var log: String { (try? String(contentsOfFile: "\(directory)/biboumi.log", encoding: .utf8)) ?? "" }

    private func stop() async {
        await Self.stop(biboumi)
        await Self.stop(ngircd)
        _ = await ProsodyServer.waitUntil(seconds: 10) { !LoopbackPort.isListening(port: Self.ircPort) }
        try? FileManager.default.removeItem(atPath: directory)
    }

    private static func launch(_ executable: String, _ arguments: [String], log: String) throws -> Int32 {
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.standardOutput = FileHandle(forWritingAtPath: log)
        process.standardError = FileHandle(forWritingAtPath: log)
        try process.run()
        return process.processIdentifier
    }

    /// SIGTERM, SIGKILL after 3 s, then waits until it is gone.
    private static func stop(_ pid: Int32) async {
        kill(pid, SIGTERM)
        if await !ProsodyServer.waitUntil(seconds: 3, { !ProsodyServer.isAlive(pid: pid) }) { kill(pid, SIGKILL) }
        _ = await ProsodyServer.waitUntil(seconds: 10) { !ProsodyServer.isAlive(pid: pid) }
    }
}
