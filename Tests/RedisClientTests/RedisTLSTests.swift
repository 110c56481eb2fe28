import Foundation
import NIOSSL
import RedisClient
import Testing
import XMPPTestSupport

/// TLS to a real redis-server that listens on its `tls-port` only and asks clients for certificates (its default).
@Suite struct RedisTLSTests {
    /// A test authority, a certificate for `localhost` for Redis and one for a client, in a temporary directory.
    struct Certificates {
        let directory = NSTemporaryDirectory() + "redis-tls-" + UUID().uuidString
        let authority: TestCertificateAuthority
        var server: RedisTestServer.TLSFiles

        init() throws {
            authority = try TestCertificateAuthority(name: "redis-test-ca", directory: directory)
            try authority.issue(["localhost"], certificatePath: "\(directory)/redis.crt", keyPath: "\(directory)/redis.key")
            try authority.issue(["node1"], certificatePath: "\(directory)/node1.crt", keyPath: "\(directory)/node1.key")
            server = .init(certificate: "\(directory)/redis.crt", privateKey: "\(directory)/redis.key",
                           certificateAuthorities: authority.certificatePath)
        }

        /// A client context trusting `authority` (this test's unless given), presenting the client certificate unless
        /// `presenting` is false.
        func client(trusting authority: String? = nil, presenting: Bool = true) throws -> NIOSSLContext {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.trustRoots = .certificates(try NIOSSLCertificate.fromPEMFile(authority ?? self.authority.certificatePath))
            if presenting {
                configuration.certificateChain = try NIOSSLCertificate.fromPEMFile("\(directory)/node1.crt").map { .certificate($0) }
                configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: "\(directory)/node1.key", format: .pem))
            }
            return try NIOSSLContext(configuration: configuration)
        }

        func remove() { try? FileManager.default.removeItem(atPath: directory) }
    }

    @Test(.timeLimit(.minutes(1)))
    func commandsAndPubSubOverTLS() async throws {
        let certificates = try Certificates()
        defer { certificates.remove() }
        let server = try await RedisTestServer.start(tls: certificates.server)
        defer { Task { await server.stop() } }
        let session = RedisSession(host: "localhost", port: server.port, tls: try certificates.client())
        defer { Task { await session.close() } }
        #expect(await session.subscribe(["news"]) == false)
        #expect(try await eventually { session.isConnected })
        #expect(try await session.send(["SET", "greeting", "hello"]).string == "OK")
        #expect(try await session.send(["GET", "greeting"]).string == "hello")
        let publisher = try await RedisConnection.connect(host: "localhost", port: server.port, tls: try certificates.client())
        defer { Task { await publisher.close() } }
        #expect(try await publisher.send(["PUBLISH", "news", "over tls"]).integer == 1)
        var messages = session.messages.makeAsyncIterator()
        #expect(await messages.next()?.text == "over tls")
        // Nothing but TLS is spoken there.
        await #expect(throws: (any Error).self) { try await RedisConnection.connect(host: "127.0.0.1", port: server.port) }
    }

    /// A Redis whose certificate this client's authorities do not vouch for, or that does not name the host asked
    /// for, is refused with the reason; a client without a certificate is refused by Redis.
    @Test(.timeLimit(.minutes(1)))
    func anUntrustedServerOrAClientWithoutCertificateIsRefused() async throws {
        let certificates = try Certificates()
        defer { certificates.remove() }
        let server = try await RedisTestServer.start(tls: certificates.server)
        defer { Task { await server.stop() } }
        let stranger = try TestCertificateAuthority(name: "stranger", directory: certificates.directory + "/stranger")

        for (host, context) in [("localhost", try certificates.client(trusting: stranger.certificatePath)),
                                ("127.0.0.1", try certificates.client())] {
            do {
                _ = try await RedisConnection.connect(host: host, port: server.port, tls: context)
                Issue.record("connected to \(host) without a valid certificate")
            } catch let error as RedisError {
                guard case .connectionFailed(let reason) = error else { Issue.record("\(host): \(error)"); continue }
                #expect(reason.contains("certificate") || reason.contains("handshake") || reason.contains("Hostname"), "\(reason)")
            }
        }
        await #expect(throws: (any Error).self) {
            let connection = try await RedisConnection.connect(host: "localhost", port: server.port, tls: try certificates.client(presenting: false))
            try await connection.send(["PING"])
        }
    }
}

/// Whether `condition` holds within 20 s, asked every 50 ms.
private func eventually(_ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + .seconds(20)
    while ContinuousClock.now < deadline {
        if try await condition() { return true }
        try await Task.sleep(for: .milliseconds(50))
    }
    return try await condition()
}
