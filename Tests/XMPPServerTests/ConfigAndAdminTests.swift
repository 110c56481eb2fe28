import Foundation
import Logging
import NIOCore
import NIOPosix
import Testing
import XMPPCore
@testable import XMPPServer
import XMPPTestSupport
import XMPPServerKernel
import XMPPServerMUC
import SwiftASN1
import X509

/// The config file format, the admin socket, and connection limits over real sockets.
@Suite struct ConfigAndAdminTests {
    @Test func configFileOverridesDefaultsAndRejectsUnknownKeys() throws {
        var configuration = ServerConfiguration()
        try ConfigFile.apply("""
            # a comment
            domain = Chat.Example.com
            bind = 0.0.0.0, ::
            c2s_tls_port = off
            allow_registration = limited
            offline_limit = 7   # trailing comment
            log_level = "debug"
            """, to: &configuration)
        #expect(configuration.domain == "chat.example.com")
        #expect(configuration.bindAddresses == ["0.0.0.0", "::"])
        #expect(configuration.c2sTLSPort == nil)
        #expect(configuration.kernel.registration == .limited(count: 5, seconds: 3600))
        #expect(configuration.kernel.moduleSettings["offline_limit"] == "7")
        #expect(configuration.logLevel == .debug)
        configuration.kernel.domain = configuration.domain
        func serviceDomains() throws -> [String] {
            try ServerKernel(configuration: configuration.kernel, storage: .inMemory(), modules: StandardModules.all).hostedServices.map(\.domain)
        }
        #expect(try serviceDomains() == ["conference.chat.example.com", "proxy.chat.example.com", "pubsub.chat.example.com", "upload.chat.example.com"])
        try ConfigFile.apply("muc_domain = Rooms.Example.com\nmuc_max_history = 5\nmuc_max_rooms_per_user = 9", to: &configuration)
        #expect(try serviceDomains() == ["proxy.chat.example.com", "pubsub.chat.example.com", "rooms.example.com", "upload.chat.example.com"])
        let services = try ServerKernel(configuration: configuration.kernel, storage: .inMemory(), modules: StandardModules.all).hostedServices
        let service = try #require(services.compactMap { $0 as? MUCService }.first)
        #expect(service.limits.maxHistoryLength == 5 && service.limits.maxRoomsPerUser == 9)
        try ConfigFile.apply("muc_domain = off\npubsub_domain = off\nupload_domain = off\nproxy_domain = off", to: &configuration)
        #expect(try serviceDomains().isEmpty)
        #expect(throws: (any Error).self, "pubsub_creators is a choice") { try ConfigFile.apply("pubsub_creators = everyone", to: &configuration) }
        // A module's option out of its declared range fails, naming the module.
        #expect { try ConfigFile.apply("offline_limit = -3", to: &configuration) } throws: { error in
            "\(error)".contains("offline_limit needs a whole number from 0 to 100000") && "\(error)".contains("offline module")
        }
        // The kernel checks settings made in code the same way.
        var unknown = KernelConfiguration(domain: "example.com")
        unknown.moduleSettings["offline_limt"] = "3"
        #expect(throws: ConfigurationError.self) { try ServerKernel(configuration: unknown, storage: .inMemory(), modules: StandardModules.all) }
        #expect(throws: ConfigFile.ParseError.self) { try ConfigFile.apply("\n\nno_such_option = 1", to: &configuration) }
        #expect(throws: ConfigFile.ParseError.self) { try ConfigFile.apply("c2s_port = many", to: &configuration) }
        // Administrators are bare JIDs.
        try ConfigFile.apply("admins = Root@Chat.Example.com, ops@chat.example.com", to: &configuration)
        #expect(configuration.kernel.isAdmin(try JID("root@chat.example.com/laptop")) && configuration.kernel.admins.count == 2)
        #expect { try ConfigFile.apply("admins = root@chat.example.com/phone", to: &configuration) } throws: { error in
            "\(error)".contains("admins lists bare JIDs")
        }
    }

    /// `domains` makes the first the server's domain and the rest virtual hosts, each with its own certificate (when
    /// given), database directory, service domains and administrators.
    @Test func virtualHostsAreConfiguredEachOnTheirOwn() throws {
        var configuration = ServerConfiguration()
        try ConfigFile.apply("""
            data_dir = /srv/xmpp
            domains = A.example, b.example, a.example
            certificate.b.example = /etc/b.crt
            private_key.B.example = /etc/b.key
            admins = root@a.example, boss@b.example
            muc_domain = rooms.a.example
            pubsub_domain = off
            proxy_port = 7777
            """, to: &configuration)
        #expect(configuration.domain == "a.example" && configuration.virtualHosts == ["b.example"])
        #expect(configuration.domains == ["a.example", "b.example"])
        #expect(configuration.virtualHost("a.example") == nil && configuration.virtualHost("c.example") == nil)
        let host = try #require(configuration.virtualHost("B.example"))
        #expect(host.domain == "b.example" && host.kernel.domain == "b.example" && host.virtualHosts.isEmpty)
        #expect(host.certificatePath == "/etc/b.crt" && host.privateKeyPath == "/etc/b.key")
        #expect(host.databaseDirectory == "/srv/xmpp/hosts/b.example" && configuration.databaseDirectory == "/srv/xmpp")
        #expect(host.kernel.admins == [try JID("boss@b.example")], "a tenant's administrators are its own")
        #expect(host.kernel.moduleSettings["muc_domain"] == nil, "its rooms at conference.b.example, not the first domain's")
        #expect(host.kernel.moduleSettings["pubsub_domain"] == "off")
        // A virtual host runs no SOCKS5 proxy or upload service: their options are left out for its kernel.
        let modules = StandardModules.virtualHost
        #expect(!modules.contains { $0.name == "proxy65" || $0.name == "http_upload" } && modules.count == StandardModules.all.count - 2)
        let kept = host.keepingOptions(of: modules)
        #expect(kept.kernel.moduleSettings["proxy_port"] == nil && kept.kernel.moduleSettings["pubsub_domain"] == "off")
        #expect(try ServerKernel(configuration: kept.kernel, storage: .inMemory(), modules: modules).hostedServices.map(\.domain)
                == ["conference.b.example"])
        // `domain` after `domains` takes the first place (and leaves the virtual hosts).
        try ConfigFile.apply("domain = b.example", to: &configuration)
        #expect(configuration.domains == ["b.example"])
        #expect(throws: ConfigFile.ParseError.self) { try ConfigFile.apply("domains = ,", to: &configuration) }
        #expect(throws: ConfigFile.ParseError.self) { try ConfigFile.apply("domains = a.example, user@b.example", to: &configuration) }
        #expect(throws: ConfigFile.ParseError.self) { try ConfigFile.apply("certificate.not a domain = /x", to: &configuration) }
    }

    /// A database serves only the domain it was created for: swapping the first two of `domains` (or changing
    /// `domain`) is refused rather than handing one domain's accounts to another; a rename is made on purpose, in the
    /// marker file. A domain that is another's service is refused too.
    @Test func aDatabaseServesOnlyItsOwnDomain() throws {
        let directory = NSTemporaryDirectory() + "xmppd-marker-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var configuration = ServerConfiguration()
        configuration.dataDirectory = directory
        try ConfigFile.apply("domains = a.test, b.test", to: &configuration)
        let logger = Logger(label: "test")
        _ = try XMPPServer(configuration: configuration, logger: logger)
        #expect(DomainMarker.owner(of: "\(directory)/xmppd.sqlite") == "a.test")
        #expect(DomainMarker.owner(of: "\(directory)/hosts/b.test/xmppd.sqlite") == "b.test")
        try ConfigFile.apply("domains = b.test, a.test", to: &configuration)
        #expect { _ = try XMPPServer(configuration: configuration, logger: logger) } throws: { error in
            "\(error)".contains("holds the accounts of a.test, not of b.test") && "\(error)".contains("xmppd.domain")
        }
        try ConfigFile.apply("domain = a.test", to: &configuration)
        _ = try XMPPServer(configuration: configuration, logger: logger)
        try "b.test\n".write(toFile: DomainMarker.path(besides: "\(directory)/xmppd.sqlite"), atomically: true, encoding: .utf8)
        try ConfigFile.apply("domain = b.test", to: &configuration)
        _ = try XMPPServer(configuration: configuration, logger: logger)
        try ConfigFile.apply("domains = b.test, conference.b.test", to: &configuration)
        #expect { _ = try XMPPServer(configuration: configuration, logger: logger) } throws: { error in
            "\(error)".contains("conference.b.test is a service of b.test")
        }
    }

    /// The admin socket of a server with two domains: sessions and accounts of both, `USER@DOMAIN` for the second.
    @Test func adminCommandsCoverEveryDomain() async throws {
        let server = try await TestServer.start(storage: "memory") { try? ConfigFile.set("domains", to: "localhost, b.test", in: &$0) }
        defer { Task { await server.stop() } }
        let kernels = server.server.hosts.map(\.kernel)
        #expect(kernels.count == 2 && kernels[1].configuration.domain == "b.test")
        let credentials = SCRAMCredentials.allHashes(password: "pw", iterations: 10)
        _ = try await kernels[0].storage.accounts.createAccount("alice", credentials: credentials)
        _ = try await kernels[1].storage.accounts.createAccount("alice", credentials: credentials)
        _ = try await kernels[1].storage.accounts.createAccount("bob", credentials: credentials)
        #expect(await AdminSocket.answer("stats", administration: server.server.administration).hasPrefix("sessions 0 accounts 3 "))
        #expect(await AdminSocket.answer("deluser bob", administration: server.server.administration) == "error: no account bob", "bob is b.test's")
        #expect(await AdminSocket.answer("deluser bob@b.test", administration: server.server.administration) == "deleted bob@b.test")
        #expect(await AdminSocket.answer("deluser alice@b.test", administration: server.server.administration) == "deleted alice@b.test")
        #expect(try await kernels[0].storage.accounts.accountExists("alice"), "the first domain's alice stays")
        #expect(await AdminSocket.answer("deluser carol@c.test", administration: server.server.administration) == "error: invalid username")
        #expect(await AdminSocket.answer("kick alice@c.test", administration: server.server.administration) == "kicked 0")
        #expect(await AdminSocket.answer("logout alice@b.test", administration: server.server.administration) == "kicked 0")
    }

    @Test func adminCommandsReportAndKick() async throws {
        let server = try await TestServer.start(storage: "memory")
        let kernel = server.server.kernel
        _ = try await kernel.storage.accounts.createAccount("alice", credentials: SCRAMCredentials.allHashes(password: "pw", iterations: 10))
        let stats = await AdminSocket.answer("stats", administration: server.server.administration)
        #expect(stats.hasPrefix("sessions 0 accounts 1 "))
        #expect(stats.contains(" mam_write_queue 0 ") && stats.contains(" mam_write_queue_peak "), "the modules' figures: \(stats)")
        #expect(await AdminSocket.answer("kick not@a@jid", administration: server.server.administration) == "error: invalid JID")
        #expect(await AdminSocket.answer("kick alice@localhost", administration: server.server.administration) == "kicked 0")
        #expect(await AdminSocket.answer("logout alice", administration: server.server.administration) == "kicked 0")
        #expect(FileManager.default.fileExists(atPath: server.server.adminSocketPath))
        #expect(await AdminSocket.answer("deluser Alice", administration: server.server.administration) == "deleted alice", "names are normalized")
        #expect(await AdminSocket.answer("deluser alice", administration: server.server.administration) == "error: no account alice")
        #expect(try await !kernel.storage.accounts.accountExists("alice"))
        await server.stop()
    }

    @Test func theDataDirectoryIsPrivateAndTheGeneratedCertificateNameConstrained() async throws {
        let server = try await TestServer.start(storage: "memory")
        let attributes = try FileManager.default.attributesOfItem(atPath: server.server.configuration.dataDirectory)
        #expect((attributes[.posixPermissions] as? Int) == 0o700)
        let secret = try FileManager.default.attributesOfItem(atPath: server.server.configuration.dataDirectory + "/xmppd.secret")
        #expect((secret[.posixPermissions] as? Int) == 0o600)
        await server.stop()
        let generated = try ServerTLS.generate(domain: "chat.example.com")
        let certificate = try Certificate(pemEncoded: generated.certificate)
        let constraints = try #require(try certificate.extensions.nameConstraints)
        #expect(Array(constraints.permittedDNSDomains) == ["chat.example.com"], "a leaked key signs nothing for other domains")
    }

    @Test func aConnectionMayAskOnlyAFewThingsBeforeLoggingIn() async throws {
        let server = try await TestServer.start(storage: "memory") { $0.requireTLS = false }
        let socket = try Socket(port: server.port)
        socket.send("<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
        _ = await socket.read(until: "</stream:features>")
        for index in 0..<11 {
            socket.send("<iq type='get' id='r\(index)'><query xmlns='jabber:iq:register'/></iq>")
        }
        let answer = await socket.readAll()
        #expect(answer.contains("id='r9'"), "ten are answered")
        #expect(!answer.contains("id='r10'"), "the eleventh is not")
        #expect(answer.contains("<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"))
        await server.stop()
    }

    @Test func connectionsOverThePerAddressLimitGetPolicyViolation() async throws {
        let server = try await TestServer.start(storage: "memory") { $0.limits.connectionsPerIP = 1 }
        // The first connection is served (and counted) before the second arrives: accepted channels are set up
        // on different event loops, so two connections opened at once could be counted in either order.
        let first = try Socket(port: server.port)
        first.send("<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
        #expect(await first.read(until: "</stream:features>").contains("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'><required/></starttls>"))
        let second = try Socket(port: server.port)
        let answer = await second.readAll()
        #expect(answer.contains("<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"), "\(answer)")
        // The first connection is unaffected: it can still start TLS.
        first.send("<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>")
        #expect(await first.read(until: "<proceed").contains("<proceed xmlns='urn:ietf:params:xml:ns:xmpp-tls'/>"))
        await server.stop()
    }

    @Test func oversizedStanzaAndUnknownHostAreStreamErrors() async throws {
        let server = try await TestServer.start(storage: "memory") { $0.limits.maxStanzaBytes = 1024 }
        let wrongHost = try Socket(port: server.port)
        wrongHost.send("<?xml version='1.0'?><stream:stream to='elsewhere.org' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
        #expect(await wrongHost.readAll().contains("<host-unknown xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"))

        let big = try Socket(port: server.port)
        big.send("<?xml version='1.0'?><stream:stream to='localhost' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>")
        big.send("<message><body>" + String(repeating: "x", count: 2048) + "</body></message>")
        #expect(await big.readAll().contains("<policy-violation xmlns='urn:ietf:params:xml:ns:xmpp-streams'/>"))
        await server.stop()
    }
}

/// Runs blocking socket work on a thread of its own: on Swift concurrency's few cooperative threads a blocking
/// `recv` would starve the server under test, whose own tasks run there too.
func blocking<Value: Sendable>(_ work: @escaping @Sendable () throws -> Value) async throws -> Value {
    try await withCheckedThrowingContinuation { continuation in
        Thread.detachNewThread { continuation.resume(with: Result { try work() }) }
    }
}

/// A blocking loopback TCP socket for byte-level tests (with a receive timeout, so a test cannot hang).
final class Socket: @unchecked Sendable {
    // @unchecked: a test uses one socket from one thread at a time.
    private var descriptor: Int32

    /// Connects to 127.0.0.1:`port`; `receiveBuffer`, if given, shrinks the kernel's receive buffer (a client that
    /// reads slowly). Sends time out after 2 s instead of blocking (a server that stopped reading).
    init(port: Int, receiveBuffer: Int32? = nil, sourceAddress: String? = nil) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var sendTimeout = timeval(tv_sec: 2, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &sendTimeout, socklen_t(MemoryLayout<timeval>.size))
        if var size = receiveBuffer {
            setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        if let sourceAddress {
            // Another loopback address (127.0.0.2, ...): a second client address for per-address limits.
            var source = sockaddr_in()
            source.sin_family = sa_family_t(AF_INET)
            source.sin_addr.s_addr = inet_addr(sourceAddress)
            let bound = withUnsafePointer(to: &source) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard bound == 0 else { throw POSIXError(.EADDRNOTAVAIL) }
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else { throw POSIXError(.ECONNREFUSED) }
    }

    deinit { if descriptor >= 0 { close(descriptor) } }

    /// Closes with a TCP reset (SO_LINGER 0) instead of an orderly shutdown.
    func abort() {
        var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        close(descriptor)
        descriptor = -1
    }

    /// Sends `text`; `false` when the send timed out or failed (the peer stopped reading or closed).
    @discardableResult
    func send(_ text: String) -> Bool {
        text.withCString { Glibc.send(descriptor, $0, strlen($0), Int32(MSG_NOSIGNAL)) } == strlen(text)
    }

    /// Reads what is there now (up to 64 KiB), waiting at most the receive timeout; empty at the end of the stream.
    func readSome() -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let count = recv(descriptor, &buffer, buffer.count, 0)
        return count > 0 ? Array(buffer[0..<count]) : []
    }

    /// Reads what comes within `limit`, through as many receive timeouts as fit; empty when the peer closed (or
    /// nothing came at all). For logins, which a loaded machine can slow past one receive timeout.
    func readSome(waitingUpTo limit: Duration) -> [UInt8] {
        let deadline = ContinuousClock.now + limit
        var buffer = [UInt8](repeating: 0, count: 65_536)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count > 0 { return Array(buffer[0..<count]) }
            let timedOut = count < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)
            guard timedOut, ContinuousClock.now < deadline else { return [] }
        }
    }

    /// Reads until `marker` appears, the peer closes, or the timeout passes, on a thread of its own (see ``blocking``).
    func read(until marker: String? = nil) async -> String {
        (try? await blocking { self.readNow(until: marker) }) ?? ""
    }

    /// Reads until the server closes the stream, on a thread of its own.
    func readAll() async -> String { await read(until: "</stream:stream>") }

    /// ``read(until:)`` on the calling thread: only inside ``blocking``.
    func readNow(until marker: String? = nil) -> String {
        var received = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count <= 0 { break }
            received += buffer[0..<count]
            if let marker, String(decoding: received, as: UTF8.self).contains(marker) { break }
        }
        return String(decoding: received, as: UTF8.self)
    }

    /// ``readAll()`` on the calling thread: only inside ``blocking``.
    func readAllNow() -> String { readNow(until: "</stream:stream>") }
}
