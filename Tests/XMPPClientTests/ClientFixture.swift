import Foundation
import Testing
import XMPPClient
import XMPPCore
import XMPPServer
import XMPPServerKernel
import XMPPTestSupport

/// Makes clients for accounts on a test server; every client trusts the server's generated certificate.
struct ClientFixture {
    let host: String
    let port: Int
    let domain: String
    let trust: XMPPClient.Configuration.CertificateTrust
    /// The server's XMPP over WebSocket endpoint (plain `ws://` on loopback), when it has one.
    let webSocketURL: URL?

    init(server: TestServer) {
        self.init(host: "127.0.0.1", port: server.port, domain: "localhost", trust: .caFile(server.certificatePath),
                  webSocketURL: server.httpPort.flatMap { URL(string: "ws://127.0.0.1:\($0)/xmpp-websocket") })
    }

    init(host: String, port: Int, domain: String, trust: XMPPClient.Configuration.CertificateTrust, webSocketURL: URL? = nil) {
        self.host = host
        self.port = port
        self.domain = domain
        self.trust = trust
        self.webSocketURL = webSocketURL
    }

    func configuration(_ user: String, password: String? = nil, resource: String? = nil) throws -> XMPPClient.Configuration {
        let jid = try JID(localpart: user, domainpart: domain, resourcepart: resource)
        return .init(jid: jid, password: password ?? "\(user)-secret", server: .host(host, port: port), trust: trust,
                     connectTimeout: .seconds(10), requestTimeout: .seconds(10))
    }

    func client(_ user: String, password: String? = nil) throws -> XMPPClient {
        XMPPClient(configuration: try configuration(user, password: password))
    }

    func jid(_ user: String) throws -> JID {
        try JID(localpart: user, domainpart: domain)
    }
}

/// The first element of `sequence` that satisfies `predicate`, or `nil` after `timeout`.
func first<S: AsyncSequence & Sendable>(_ sequence: S, timeout: Duration = .seconds(5),
                                        where predicate: @escaping @Sendable (S.Element) -> Bool) async -> S.Element?
    where S.Element: Sendable {
    await withTaskGroup(of: S.Element?.self) { group in
        group.addTask {
            do {
                for try await element in sequence where predicate(element) { return element }
            } catch {}
            return nil
        }
        group.addTask {
            try? await Task.sleep(for: timeout)
            return nil
        }
        let result = await group.next() ?? nil
        group.cancelAll()
        return result
    }
}

/// Whether `condition` becomes true within `timeout`, checked every 10 ms.
func eventually(timeout: Duration = .seconds(5), _ condition: () throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return try condition()
}


/// The server a client test runs against: ours or Prosody from Debian; both serve `localhost` and
/// `conference.localhost`, with `admin@localhost` as administrator.
enum ServerPeer: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case xmppd
    case prosody

    var testDescription: String { rawValue }

    /// Starts the server, runs `body` with clients for it, and stops the server; at most four at once
    /// (``TestGate/servers``).
    func run(_ body: (ClientFixture) async throws -> Void) async throws {
        try await TestGate.servers.run { try await runNow(body) }
    }

    private func runNow(_ body: (ClientFixture) async throws -> Void) async throws {
        switch self {
        case .xmppd:
            let server = try await TestServer.start { $0.kernel.admins = [try! JID("admin@localhost")] }
            do { try await body(ClientFixture(server: server)) } catch { await server.stop(); throw error }
            await server.stop()
        case .prosody:
            try await ProsodyServer.with { prosody in
                try await body(ClientFixture(host: "127.0.0.1", port: prosody.port, domain: "localhost",
                                             trust: .caFile(prosody.certificatePath), webSocketURL: prosody.webSocketURL))
            }
        }
    }
}
