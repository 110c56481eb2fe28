import Foundation
import NIOCore
import NIOPosix
import Testing
import XMPPClient
import XMPPCore
import XMPPServer
import XMPPServerKernel
import XMPPTestSupport
import XMPPTransport

/// The fixtures the other tests lean on must themselves be able to fail: each helper is checked both ways.
@Suite("Test fixtures")
struct FixtureTests {
    @Test("first(_:) returns the first match, and nil when nothing matches in time")
    func firstHelper() async {
        let numbers = AsyncStream<Int> { continuation in
            for number in 1...5 { continuation.yield(number) }
        }
        #expect(await first(numbers) { $0 > 2 } == 3)
        let silent = AsyncStream<Int> { _ in }
        let start = ContinuousClock.now
        #expect(await first(silent, timeout: .milliseconds(100)) { _ in true } == nil)
        #expect(ContinuousClock.now - start >= .milliseconds(100))
    }

    @Test("TestServer.withUploads opens the HTTPS listener and runs the upload service with the limits asked for")
    func uploadServer() async throws {
        let server = try await TestServer.withUploads(maxFileBytes: 4321, bytesPerSecond: 65_536)
        defer { Task { await server.stop() } }
        #expect(server.httpsPort != nil)
        #expect(server.server.kernel.hostedServiceDomains.contains("upload.localhost"))
        #expect(server.configuration.kernel.moduleSettings["upload_max_file_bytes"] == "4321")
        #expect(server.configuration.kernel.moduleSettings["upload_bytes_per_second"] == "65536")
    }

    @Test("XMPPDProcess starts a real xmppd, kill -9 takes it down, it starts again on the same data, stop removes it")
    func xmppdProcessHelper() async throws {
        let port = try LoopbackPort.free()
        let server = try await XMPPDProcess.start(port: port)
        #expect(LoopbackPort.isListening(port: port) && server.pid != nil)
        #expect(FileManager.default.fileExists(atPath: server.certificatePath), "it made its certificate")
        await server.kill9()
        #expect(!LoopbackPort.isListening(port: port) && server.pid == nil)
        try await server.start()
        #expect(LoopbackPort.isListening(port: port))
        await server.stop()
        #expect(!LoopbackPort.isListening(port: port) && !FileManager.default.fileExists(atPath: server.directory))
    }

    @Test("ProsodyServer is killed, started again on its data (an account survives), terminated, and started again")
    func prosodyRestarts() async throws {
        try await ProsodyServer.with { prosody in
            let fixture = ClientFixture(host: "127.0.0.1", port: prosody.port, domain: "localhost", trust: .caFile(prosody.certificatePath))
            let first = prosody.pid
            try await fixture.client("kept").connect(registering: true)
            await prosody.kill9()
            #expect(!LoopbackPort.isListening(port: prosody.port))
            try await prosody.restart()
            #expect(prosody.pid != first && LoopbackPort.isListening(port: prosody.port, byProcess: prosody.pid))
            let again = try fixture.client("kept")
            try await again.connect()
            await again.disconnect()
            await prosody.terminate()
            #expect(!LoopbackPort.isListening(port: prosody.port))
            try await prosody.restart()
            #expect(LoopbackPort.isListening(port: prosody.port, byProcess: prosody.pid))
        }
    }

    @Test("ToolOutput finds a wrong status, a missing phrase and a leaked library error, and passes a plain report")
    func toolOutputJudgesFailures() {
        let plain = ToolOutput((status: 3, output: "xmpp status: cannot connect: nothing accepts connections\nhint: is xmppd running?\n"))
        #expect(plain.problems(status: 3, saying: ["cannot connect", "hint:"]).isEmpty)
        #expect(plain.problems(status: 1, saying: []) == ["exit status 3, expected 1"])
        #expect(plain.problems(status: 3, saying: ["TLS"]) == ["missing \"TLS\""])
        let leaked = ToolOutput((status: 3, output: "connection reset (error set): Connection refused (errno: 111)"))
        #expect(leaked.problems(status: 3, saying: []) == ["shows \"errno\""])
    }

    @Test("eventually(_:) sees a condition that becomes true, and reports one that never does")
    func eventuallyHelper() async {
        let start = ContinuousClock.now
        #expect(await eventually { ContinuousClock.now - start > .milliseconds(30) })
        #expect(await eventually(timeout: .milliseconds(50)) { false } == false)
    }

    @Test("TestServer listens on both ports with a certificate, and dropSessions ends a client's session")
    func testServer() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        #expect(LoopbackPort.isListening(port: server.port) && LoopbackPort.isListening(port: server.tlsPort))
        #expect(LoopbackPort.isListening(port: server.port, byProcess: getpid()), "this process owns its listener")
        #expect(FileManager.default.fileExists(atPath: server.certificatePath))
        #expect(server.certificateFingerprint.split(separator: ":").count == 32)

        let client = try ClientFixture(server: server).client("dora")
        try await client.connect(registering: true)
        let states = client.states
        server.dropSessions(of: "dora")
        let ended = await first(states) { $0.isDisconnected }
        #expect(ended == .disconnected(.streamError(StreamError(.systemShutdown))))
    }

    @Test("TCPProxy relays a whole session, and dropAll makes the client see a lost connection, not a closed stream")
    func tcpProxy() async throws {
        let server = try await TestServer.start(storage: "memory")
        defer { Task { await server.stop() } }
        let proxy = try await TCPProxy.start(to: server.port)
        #expect(proxy.port != server.port && LoopbackPort.isListening(port: proxy.port))
        let configuration = try ClientFixture(host: "127.0.0.1", port: proxy.port, domain: "localhost",
                                              trust: .caFile(server.certificatePath)).configuration("erin")
        let client = XMPPClient(configuration: configuration)
        try await client.connect(registering: true)
        #expect(client.connectionState.isOnline, "TLS, SASL and binding went through the proxy")
        let states = client.states
        proxy.dropAll()
        let ended = await first(states) { $0.isDisconnected }
        guard case .disconnected(.connectionLost?)? = ended else {
            Issue.record("expected a lost connection, got \(String(describing: ended))")
            return
        }
        await proxy.stop()
        #expect(!LoopbackPort.isListening(port: proxy.port), "stopped")
    }

    @Test("runProcess reports status and output, feeds standard input, and stops a process at its deadline")
    func runProcessHelper() async throws {
        let echoed = try await runProcess(["cat"], input: "fed through stdin\n", timeout: 10)
        #expect(echoed.status == 0 && echoed.output == "fed through stdin\n")
        let failed = try await runProcess(["sh", "-c", "echo oops; exit 3"], timeout: 10)
        #expect(failed.status == 3 && failed.output == "oops\n")
        // Timed from inside the gate's place, so a queue for a place does not count.
        try await TestGate.servers.run {
            let started = Date()
            let stopped = try await runProcess(["sleep", "30"], timeout: 1)
            #expect(stopped.status != 0 && Date().timeIntervalSince(started) < 10)
        }
    }

    @Test("TestCertificateAuthority issues certificates that openssl verifies with its root (for the names given), and not with another's")
    func certificateAuthority() async throws {
        let directory = NSTemporaryDirectory() + "fixture-ca-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let authority = try TestCertificateAuthority(name: "ca", directory: directory)
        let other = try TestCertificateAuthority(name: "other", directory: directory)
        try authority.issue(["a.test", "*.a.test"], certificatePath: "\(directory)/a.crt", keyPath: "\(directory)/a.key")
        let good = try await runProcess(["openssl", "verify", "-CAfile", authority.certificatePath, "-verify_hostname", "conference.a.test",
                                         "\(directory)/a.crt"], timeout: 30)
        #expect(good.status == 0 && good.output.contains("OK"), "\(good.output)")
        let otherName = try await runProcess(["openssl", "verify", "-CAfile", authority.certificatePath, "-verify_hostname", "b.test",
                                              "\(directory)/a.crt"], timeout: 30)
        #expect(otherName.status != 0, "\(otherName.output)")
        let otherRoot = try await runProcess(["openssl", "verify", "-CAfile", other.certificatePath, "\(directory)/a.crt"], timeout: 30)
        #expect(otherRoot.status != 0, "\(otherRoot.output)")
        let key = try await runProcess(["openssl", "pkey", "-in", "\(directory)/a.key", "-noout"], timeout: 30)
        #expect(key.status == 0, "\(key.output)")
        // A certificate for a key openssl made (ejabberd's): it verifies and carries that key.
        let made = try await runProcess(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                                         "-out", "\(directory)/e.key"], timeout: 30)
        #expect(made.status == 0, "\(made.output)")
        try authority.issue(["e.test"], certificatePath: "\(directory)/e.crt", forKeyAt: "\(directory)/e.key")
        let verified = try await runProcess(["openssl", "verify", "-CAfile", authority.certificatePath, "\(directory)/e.crt"], timeout: 30)
        #expect(verified.status == 0, "\(verified.output)")
        let certificateKey = try await runProcess(["openssl", "x509", "-in", "\(directory)/e.crt", "-noout", "-pubkey"], timeout: 30).output
        let ownKey = try await runProcess(["openssl", "pkey", "-in", "\(directory)/e.key", "-pubout"], timeout: 30).output
        #expect(certificateKey.contains("BEGIN PUBLIC KEY") && certificateKey == ownKey, "\(certificateKey) \(ownKey)")
    }

    @Test("EjabberdServer runs ejabberd on its own ports and node, answers XMPP there, and stop takes it and its port mapper away")
    func ejabberdServer() async throws {
        let epmdBefore = EjabberdServer.processIDs(named: "epmd")
        let (pid, port) = try await EjabberdServer.with(domain: "fixture.test", remotes: ["elsewhere.test": 5269]) { ejabberd in
            #expect(LoopbackPort.isListening(port: ejabberd.port, byProcess: ejabberd.processID))
            #expect(LoopbackPort.isListening(port: ejabberd.s2sPort, byProcess: ejabberd.processID))
            // It speaks XMPP for its domain on the c2s port.
            let probe = try await runProcess(["python3", "-c", """
                import socket; s = socket.create_connection(("127.0.0.1", \(ejabberd.port)), 10)
                s.sendall(b"<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='fixture.test' version='1.0'>")
                print(s.recv(4096).decode())
                """], timeout: 30)
            #expect(probe.output.contains("from='fixture.test'"), "\(probe.output)")
            return (ejabberd.processID, ejabberd.port)
        }
        #expect(!LoopbackPort.isListening(port: port))
        #expect(kill(pid, 0) != 0 || (try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8))?.contains(") Z") == true)
        #expect(EjabberdServer.processIDs(named: "epmd").subtracting(epmdBefore).allSatisfy { kill($0, 0) != 0
            || (try? String(contentsOfFile: "/proc/\($0)/stat", encoding: .utf8))?.contains(") Z") == true })
    }

    @Test("LoopbackPort.free gives a port nobody listens on, below the ephemeral range, never the same twice")
    func freePort() throws {
        let ports = try (0..<50).map { _ in try LoopbackPort.free() }
        #expect(Set(ports).count == ports.count)
        #expect(ports.allSatisfy { LoopbackPort.candidateRange().contains($0) })
        #expect(!ports.contains { LoopbackPort.isListening(port: $0) })
    }

    @Test("TestGate lets `limit` bodies run at once, queues the rest, and lets a body in again without a second place")
    func testGateBoundsConcurrency() async throws {
        let gate = TestGate(limit: 2)
        final class Counts: Sendable { let value = Locked((now: 0, most: 0)) }
        let counts = Counts()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<6 {
                group.addTask {
                    try await gate.run {
                        counts.value.withLock { $0.now += 1; $0.most = max($0.most, $0.now) }
                        try await Task.sleep(for: .milliseconds(50))
                        counts.value.withLock { $0.now -= 1 }
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(counts.value.withLock { $0.most } == 2 && gate.freePlaces == 2)
        let single = TestGate(limit: 1)
        let nested = try await single.run { try await single.run { "inside" } }
        #expect(nested == "inside" && single.freePlaces == 1, "a body inside the gate does not wait for itself")
    }

    @Test("TestGate: a body that takes every place runs alone, and lighter bodies do not wait behind it")
    func testGateRunsAHeavyBodyAlone() async throws {
        let gate = TestGate(limit: 3)
        final class Log: Sendable { let value = Locked((inside: 0, heavyOverlapped: false, order: [String]())) }
        let log = Log()
        let (release, releaser) = AsyncStream.makeStream(of: Void.self)
        let light = Task {
            try await gate.run {
                log.value.withLock { $0.inside += 1; $0.order.append("light") }
                for await _ in release { break }   // holds its place until told
                log.value.withLock { $0.inside -= 1 }
            }
        }
        while gate.freePlaces != 2 { try await Task.sleep(for: .milliseconds(5)) }
        let heavy = Task {
            try await gate.run(places: 3) {
                log.value.withLock { $0.heavyOverlapped = $0.inside > 0; $0.order.append("heavy") }
            }
        }
        while gate.waitingBodies != 1 { try await Task.sleep(for: .milliseconds(5)) }
        // Two places are free while the heavy body waits for three: a light one goes in at once.
        try await gate.run { log.value.withLock { $0.order.append("late") } }
        releaser.yield()
        try await light.value
        try await heavy.value
        let (overlapped, order) = log.value.withLock { ($0.heavyOverlapped, $0.order) }
        #expect(!overlapped && order == ["light", "late", "heavy"] && gate.freePlaces == 3 && gate.waitingBodies == 0, "\(order)")
    }

    @Test("LoopbackPort finds this process's listeners even when /proc/net/tcp runs to many pages")
    func ownershipCheckReadsTheWholeSocketTable() throws {
        // 120 listeners make the table ~18 KB, several pages: a reader that stops at the first page misses most.
        var sockets: [(fd: Int32, port: Int)] = []
        defer { for socket in sockets { close(socket.fd) } }
        for _ in 0..<120 {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_addr.s_addr = inet_addr("127.0.0.1")
            var length = socklen_t(MemoryLayout<sockaddr_in>.size)
            let ok = withUnsafeMutablePointer(to: &address) { pointer in
                pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
            } && listen(fd, 1) == 0
            try #require(ok)
            sockets.append((fd, Int(UInt16(bigEndian: address.sin_port))))
        }
        let missed = sockets.filter { !LoopbackPort.isListening(port: $0.port, byProcess: getpid()) }.map(\.port)
        #expect(missed.isEmpty, "listeners not found: \(missed.count)")
    }

    @Test("RedisTestServer: a redis-server of its own listens on its port, is gone after stop() (port closed, directory removed) and starts again on the same port",
          .timeLimit(.minutes(1)))
    func redisLifecycle() async throws {
        let server = try await RedisTestServer.start()
        #expect(LoopbackPort.isListening(port: server.port))
        #expect(LoopbackPort.isListening(port: server.port, byProcess: server.pid))
        await server.stop()
        #expect(!LoopbackPort.isListening(port: server.port))
        #expect(!FileManager.default.fileExists(atPath: server.directory))
        let again = try await RedisTestServer.start(port: server.port)
        #expect(again.port == server.port && again.pid != server.pid)
        #expect(LoopbackPort.isListening(port: again.port, byProcess: again.pid))
        await again.stop()
        #expect(!LoopbackPort.isListening(port: again.port))
    }

    @Test("PostgresTestServer: a private cluster answers SQL, hands out separate databases, stops (port closed, SQL fails) and restarts on its data")
    func postgresLifecycle() async throws {
        let cluster = try await PostgresTestServer.startPrivate()
        #expect(LoopbackPort.isListening(port: cluster.port))
        _ = try await cluster.psql("CREATE TABLE kept (word TEXT); INSERT INTO kept VALUES ('still here')")
        let first = try await cluster.newDatabase(), second = try await cluster.newDatabase()
        #expect(first != second && first.hasPrefix("postgres://xmppd@127.0.0.1:\(cluster.port)/test_"))
        try await cluster.stop()
        #expect(!LoopbackPort.isListening(port: cluster.port))
        await #expect(throws: (any Error).self) { _ = try await cluster.psql("SELECT 1") }
        try await cluster.restart()
        #expect(try await cluster.psql("SELECT word FROM kept").trimmingCharacters(in: .whitespacesAndNewlines) == "still here")
        try await cluster.stop()
    }

    @Test("ProsodyServer comes up on its port and is gone after stop()")
    func prosodyLifecycle() async throws {
        let prosody = try await ProsodyServer.start()
        #expect(LoopbackPort.isListening(port: prosody.port))
        #expect(LoopbackPort.isListening(port: prosody.port, byProcess: try prosody.pid))
        #expect(!LoopbackPort.isListening(port: prosody.port, byProcess: getpid()), "the owner, not just anyone")
        #expect(FileManager.default.fileExists(atPath: prosody.certificatePath))
        await prosody.stop()
        #expect(!LoopbackPort.isListening(port: prosody.port))
        #expect(!FileManager.default.fileExists(atPath: prosody.directory))
    }

    @Test("ProsodyServer.with stops Prosody when its body throws, and passes the error on")
    func prosodyWithStopsOnThrow() async throws {
        struct Planned: Error {}
        let seen = Locked<(port: Int, directory: String)?>(nil)
        await #expect(throws: Planned.self) {
            try await ProsodyServer.with { prosody in
                seen.withLock { $0 = (prosody.port, prosody.directory) }
                throw Planned()
            }
        }
        let (port, directory) = try #require(seen.withLock { $0 })
        #expect(!LoopbackPort.isListening(port: port))
        #expect(!FileManager.default.fileExists(atPath: directory))
    }

    @Test("FakeDNSServer answers the SRV records it was given, nothing for other names, and stops answering when stopped")
    func fakeDNSServer() async throws {
        let record = DNSMessage.SRVRecord(priority: 5, weight: 10, port: 5269, target: "xmpp.example.test")
        let dns = try await FakeDNSServer.start(records: ["_xmpp-server._tcp.example.test": [record]])
        let lookup = SRVLookup(nameServers: [dns.address], group: MultiThreadedEventLoopGroup.singleton, timeout: .seconds(2))
        #expect(await lookup.records(of: "_xmpp-server._tcp.example.test") == [record])
        #expect(await lookup.records(of: "_xmpp-server._tcp.other.test").isEmpty)
        await dns.stop()
        let quiet = SRVLookup(nameServers: [dns.address], group: MultiThreadedEventLoopGroup.singleton, timeout: .milliseconds(300))
        #expect(await quiet.records(of: "_xmpp-server._tcp.example.test").isEmpty)
    }

    @Test("IRCGateway runs ngircd on the IRC port while its body runs, stops it afterwards, and passes a body's error on")
    func ircGateway() async throws {
        struct Planned: Error {}
        try await TestGate.servers.run {
            let greeting = try await IRCGateway.with(domain: "irc.localhost", secret: "s", componentPort: try LoopbackPort.free()) { gateway in
                #expect(LoopbackPort.isListening(port: IRCGateway.ircPort))
                #expect(FileManager.default.fileExists(atPath: "\(gateway.directory)/biboumi.cfg"))
                return try await runProcess(["python3", "-c", "import socket; s = socket.create_connection(('127.0.0.1', \(IRCGateway.ircPort)));"
                                             + " s.sendall(b'NICK fixture\\r\\nUSER fixture 0 * :f\\r\\n'); print(s.recv(4096).decode())"],
                                            timeout: 30).output
            }
            #expect(greeting.contains("irc.test"), "\(greeting)")
            #expect(!LoopbackPort.isListening(port: IRCGateway.ircPort))
            await #expect(throws: Planned.self) {
                try await IRCGateway.with(domain: "irc.localhost", secret: "s", componentPort: try LoopbackPort.free()) { _ in throw Planned() }
            }
            #expect(!LoopbackPort.isListening(port: IRCGateway.ircPort))
        }
    }
}
