import Foundation
import Testing
import XMPPClient
import XMPPCore
import XMPPServer
import XMPPTestSupport

@Suite("Connecting to a server with virtual hosts")
struct VirtualHostConnectionTests {
    @Test("each domain presents its own certificate over STARTTLS and direct TLS (SNI), SCRAM-PLUS binds to it, accounts are the domain's")
    func eachDomainHasItsCertificateAndAccounts() async throws {
        let server = try await TestServer.start(storage: "memory") { try? ConfigFile.set("domains", to: "alpha.test, beta.test", in: &$0) }
        defer { Task { await server.stop() } }
        let certificates = [("alpha.test", server.certificatePath), ("beta.test", "\(server.directory)/beta.test.crt")]
        func client(_ domain: String, password: String, directTLS: Bool, trusting certificate: String) throws -> XMPPClient {
            XMPPClient(configuration: .init(
                jid: try JID("carol@\(domain)"), password: password,
                server: .host("127.0.0.1", port: directTLS ? server.tlsPort : server.port, directTLS: directTLS),
                trust: .caFile(certificate), connectTimeout: .seconds(10), requestTimeout: .seconds(10)))
        }
        for (domain, certificate) in certificates {
            for directTLS in [false, true] {
                let carol = try client(domain, password: "pw-\(domain)", directTLS: directTLS, trusting: certificate)
                try await carol.connect(registering: !directTLS)
                // The binding is the hash of the certificate TLS presented: a wrong one would fail the login.
                #expect(carol.authenticationMechanism == .scramSHA512Plus, "\(domain) direct TLS \(directTLS)")
                #expect(carol.jid?.bare == (try JID("carol@\(domain)")))
                await carol.disconnect()
            }
        }
        // The other domain's certificate does not verify for a domain: each has its own.
        for directTLS in [false, true] {
            let mistrusting = try client("beta.test", password: "pw-beta.test", directTLS: directTLS, trusting: server.certificatePath)
            await #expect(throws: XMPPClientError.self) { try await mistrusting.connect() }
        }
        // carol@alpha.test's password is not carol@beta.test's.
        let crossed = try client("beta.test", password: "pw-alpha.test", directTLS: false, trusting: certificates[1].1)
        await #expect(throws: XMPPClientError.self) { try await crossed.connect() }
    }
}
