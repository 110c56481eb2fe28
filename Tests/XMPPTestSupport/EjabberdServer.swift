import Foundation
import XMPPCore
import XMPPTransport

/// ejabberd from Debian (23.01), started for a test on free loopback ports with its own configuration, Erlang node
/// name, self-signed certificate and spool directory; stopped by PID. It serves `domain`
/// with open in-band registration, rooms at `conference.<domain>`, PEP, dialback for server-to-server streams
/// (STARTTLS required), and finds remote domains only through a name server of the test's (a ``FakeDNSServer`` with
/// the `_xmpp-server._tcp` records of `remotes`): its Erlang resolver reads an inetrc of the fixture's, not
/// `/etc/resolv.conf` (ejabberdctl sets `ERL_INETRC` to the config directory's).
public final class EjabberdServer: Sendable {
    /// The c2s (STARTTLS) port.
    public let port: Int
    /// The server-to-server port.
    public let s2sPort: Int
    /// The domain it serves.
    public let domain: String
    /// The root clients must trust.
    public let certificatePath: String
    /// The working directory.
    public let directory: String
    private let pid: Int32
    /// ejabberd's process id (the Erlang node).
    public var processID: Int32 { pid }
    /// The Erlang port mappers that ran before this fixture started ejabberd (one it starts outlives ejabberd).
    private let epmdBefore: Set<Int32>
    private let dns: FakeDNSServer

    private init(port: Int, s2sPort: Int, domain: String, certificatePath: String, directory: String, pid: Int32,
                 epmdBefore: Set<Int32>, dns: FakeDNSServer) {
        self.port = port
        self.s2sPort = s2sPort
        self.domain = domain
        self.certificatePath = certificatePath
        self.directory = directory
        self.pid = pid
        self.epmdBefore = epmdBefore
        self.dns = dns
    }

    /// Starts ejabberd for `domain`, reaching each domain of `remotes` (and its `conference.` subdomain) at
    /// 127.0.0.1 on the given port, runs `body`, and stops it whether `body` returns or throws. Waits for a place in
    /// ``TestGate/servers`` first. With `authority`, ejabberd's certificate comes from it, it trusts it for remote
    /// servers (`s2s_cafile`), and it has no dialback: remote servers authenticate by SASL EXTERNAL or not at all.
    public static func with<Result>(domain: String, remotes: [String: Int], authority: TestCertificateAuthority? = nil,
                                    _ body: (EjabberdServer) async throws -> Result) async throws -> Result {
        // The ejabberd gate first, then a place among the servers (always in this order: no two tests wait on each other).
        try await TestGate.ejabberd.run { try await TestGate.servers.run {
            let server = try await start(domain: domain, remotes: remotes, authority: authority)
            do {
                let result = try await body(server)
                await server.stop()
                return result
            } catch {
                await server.stop()
                throw error
            }
        } }
    }

    /// - Throws: ``TestSetupError`` when ejabberd is missing (`.ci/run` installs it) or does not come up.
    static func start(domain: String, remotes: [String: Int], authority: TestCertificateAuthority? = nil) async throws -> EjabberdServer {
        guard FileManager.default.isExecutableFile(atPath: "/usr/sbin/ejabberdctl") else {
            throw TestSetupError("ejabberd is not installed: apt-get install ejabberd (.ci/run does)")
        }
        let directory = NSTemporaryDirectory() + "ejabberd-test-" + UUID().uuidString
        for sub in ["db", "log"] { try FileManager.default.createDirectory(atPath: "\(directory)/\(sub)", withIntermediateDirectories: true) }
        // Self-signed and CA:TRUE, so clients can trust it as a root (openssl's keys and certificates are what
        // Erlang's public_key reads without fuss).
        let names = [domain, "conference.\(domain)", "pubsub.\(domain)"].map { "DNS:\($0)" }.joined(separator: ",")
        let certificate = try await runProcess([
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "\(directory)/leaf.key", "-out", "\(directory)/leaf.crt", "-days", "2", "-subj", "/CN=\(domain)",
            "-addext", "subjectAltName=\(names)", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=digitalSignature,keyCertSign",
        ], timeout: 30)
        guard certificate.status == 0 else { throw TestSetupError("openssl: \(certificate.output)") }
        if let authority {
            // The same openssl key, with a certificate from the authority instead.
            try authority.issue([domain, "conference.\(domain)", "pubsub.\(domain)"], certificatePath: "\(directory)/leaf.crt",
                                forKeyAt: "\(directory)/leaf.key")
        }
        // (A line break between them: a PEM file need not end with one.)
        let combined = try String(contentsOfFile: "\(directory)/leaf.crt", encoding: .utf8) + "\n"
            + String(contentsOfFile: "\(directory)/leaf.key", encoding: .utf8)
        try combined.write(toFile: "\(directory)/\(domain).pem", atomically: true, encoding: .utf8)
        var records: [String: [DNSMessage.SRVRecord]] = [:]
        for (remote, port) in remotes {
            let record = [DNSMessage.SRVRecord(priority: 0, weight: 0, port: UInt16(port), target: "127.0.0.1")]
            records["_xmpp-server._tcp.\(remote)"] = record
            records["_xmpp-server._tcp.conference.\(remote)"] = record
        }
        let dns = try await FakeDNSServer.start(records: records)
        let (port, s2sPort) = (try LoopbackPort.free(), try LoopbackPort.free())
        let node = "xmpptest\(UUID().uuidString.prefix(8).lowercased())@localhost"
        try configuration(domain: domain, directory: directory, port: port, s2sPort: s2sPort, trusting: authority?.certificatePath)
            .write(toFile: "\(directory)/ejabberd.yml", atomically: true, encoding: .utf8)
        try """
            EXEC_CMD="as_current_user"
            INET_DIST_INTERFACE=127.0.0.1
            ERL_EPMD_ADDRESS=127.0.0.1
            ERLANG_NODE=\(node)
            EJABBERD_CONFIG_PATH=\(directory)/ejabberd.yml
            EJABBERD_PID_PATH=\(directory)/ejabberd.pid
            SPOOL_DIR=\(directory)/db
            LOGS_DIR=\(directory)/log
            EJABBERD_LOG_PATH=\(directory)/log/ejabberd.log
            CONTRIB_MODULES_PATH=\(directory)/contrib
            ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"
            """.write(toFile: "\(directory)/ejabberdctl.cfg", atomically: true, encoding: .utf8)
        // The Erlang resolver: only the test's name server, no /etc/resolv.conf, no hosts file (in this order: an
        // empty resolv_conf after the name server would drop it).
        let dnsPort = dns.address.split(separator: ":").last.map(String.init) ?? "53"
        try """
            {resolv_conf, ""}.
            {hosts_file, ""}.
            {nameserver, {127,0,0,1}, \(dnsPort)}.
            {lookup, [dns]}.

            """.write(toFile: "\(directory)/inetrc", atomically: true, encoding: .utf8)
        let epmdBefore = processIDs(named: "epmd")
        // `ejabberdctl start` leaves a detached Erlang node behind, which keeps the descriptors it inherits: its
        // output goes to a file, not to a pipe whose end of file would never come.
        FileManager.default.createFile(atPath: "\(directory)/log/start.log", contents: nil)
        let control = Process()
        control.executableURL = URL(fileURLWithPath: "/usr/sbin/ejabberdctl")
        // --config-dir: ejabberdctl reads ejabberdctl.cfg there, and points the Erlang resolver at its inetrc.
        control.arguments = ["--config-dir", directory, "start"]
        control.environment = ProcessInfo.processInfo.environment.merging(["HOME": directory]) { $1 }
        control.standardInput = FileHandle(forReadingAtPath: "/dev/null")
        control.standardOutput = FileHandle(forWritingAtPath: "\(directory)/log/start.log")
        control.standardError = control.standardOutput
        try control.run()
        // By its pid: Foundation's isRunning does not see the end in time on Linux.
        let controlPID = control.processIdentifier
        _ = await ProsodyServer.waitUntil(seconds: 60) { !ProsodyServer.isAlive(pid: controlPID) }
        let started = (try? String(contentsOfFile: "\(directory)/log/start.log", encoding: .utf8)) ?? ""
        var pid: Int32 = 0
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            if pid == 0, let text = try? String(contentsOfFile: "\(directory)/ejabberd.pid", encoding: .utf8) {
                pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
            }
            if pid != 0, !ProsodyServer.isAlive(pid: pid) { break }
            if pid != 0, LoopbackPort.isListening(port: port, byProcess: pid), LoopbackPort.isListening(port: s2sPort, byProcess: pid) {
                return EjabberdServer(port: port, s2sPort: s2sPort, domain: domain, certificatePath: "\(directory)/leaf.crt",
                                      directory: directory, pid: pid, epmdBefore: epmdBefore, dns: dns)
            }
            try await Task.sleep(for: .milliseconds(200))
        }
        let log = (try? String(contentsOfFile: "\(directory)/log/ejabberd.log", encoding: .utf8)) ?? ""
        let server = EjabberdServer(port: port, s2sPort: s2sPort, domain: domain, certificatePath: "\(directory)/leaf.crt",
                                    directory: directory, pid: pid, epmdBefore: epmdBefore, dns: dns)
        await server.stop()
        throw TestSetupError("ejabberd did not come up on port \(port) (ejabberdctl: \(started)): \(log.suffix(3000))")
    }

    static func configuration(domain: String, directory: String, port: Int, s2sPort: Int, trusting authority: String? = nil) -> String {
        // With an authority: its root for remote servers' certificates, and no dialback module.
        let certificates = authority.map { "s2s_cafile: \"\($0)\"\n" } ?? ""
        return certificates + """
        loglevel: info
        log_rotate_count: 0
        hosts:
          - "\(domain)"
        certfiles:
          - "\(directory)/\(domain).pem"
        listen:
          -
            port: \(port)
            ip: "127.0.0.1"
            module: ejabberd_c2s
            starttls_required: true
          -
            port: \(s2sPort)
            ip: "127.0.0.1"
            module: ejabberd_s2s_in
        s2s_use_starttls: required
        s2s_access: all
        s2s_dns_timeout: 3
        s2s_dns_retries: 1
        registration_timeout: infinity
        auth_method: internal
        auth_password_format: plain
        default_db: mnesia
        acl:
          local:
            user_regexp: ""
        access_rules:
          local:
            allow: local
          c2s:
            allow: all
          register:
            allow: all
        shaper_rules:
          c2s_shaper: none
          s2s_shaper: none
        modules:
          mod_caps: {}
          mod_disco: {}
          mod_ping: {}
          mod_roster: {}
          mod_offline: {}
          mod_vcard: {}
          \(authority == nil ? "mod_s2s_dialback: {}\n  " : "")mod_register:
            access: register
            ip_access: all
          mod_muc:
            host: "conference.@HOST@"
            access: all
            access_create: all
            access_persistent: all
          mod_pubsub:
            plugins:
              - "flat"
              - "pep"

        """
    }

    /// The end of ejabberd's log (for a failing test's message).
    public var logTail: String {
        String(((try? String(contentsOfFile: "\(directory)/log/ejabberd.log", encoding: .utf8)) ?? "").suffix(6000))
    }

    /// Stops ejabberd by its PID (SIGTERM, SIGKILL after 3 s) and waits until its ports are closed, the port mapper if this fixture started it, the name
    /// server, and removes the directory.
    public func stop() async {
        if pid != 0 {
            // SIGTERM makes the Erlang node stop in order; it is gone when the process is and its listeners are.
            let gone = { !ProsodyServer.isAlive(pid: self.pid) && !LoopbackPort.isListening(port: self.port)
                && !LoopbackPort.isListening(port: self.s2sPort) }
            kill(pid, SIGTERM)
            if await !ProsodyServer.waitUntil(seconds: 3, gone) { kill(pid, SIGKILL) }
            _ = await ProsodyServer.waitUntil(seconds: 10, gone)
        }
        for epmd in Self.processIDs(named: "epmd").subtracting(epmdBefore) { kill(epmd, SIGTERM) }
        await dns.stop()
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// The ids of the processes whose command name is `name` (from /proc).
    public static func processIDs(named name: String) -> Set<Int32> {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return Set(entries.compactMap { entry -> Int32? in
            guard let pid = Int32(entry),
                  let command = try? String(contentsOfFile: "/proc/\(entry)/comm", encoding: .utf8) else { return nil }
            return command.trimmingCharacters(in: .whitespacesAndNewlines) == name ? pid : nil
        })
    }
}
