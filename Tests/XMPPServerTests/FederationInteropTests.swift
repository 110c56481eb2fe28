import Foundation
import Testing
import XMPPServer
import XMPPTestSupport
import XMPPTransport

/// Federation (RFC 6120 §13: XEP-0220 dialback over STARTTLS, or SASL EXTERNAL on certificates from a test CA) between
/// two xmppd domains on loopback (and with Prosody), each reaching the
/// other through `s2s_hosts`, driven by slixmpp clients of both (Interop/slixmpp_federation_scenario.py).
@Suite struct FederationInteropTests {
    /// How the two servers find each other.
    enum Resolution: Sendable {
        /// `s2s_hosts` entries.
        case configured
        /// SRV records (`_xmpp-server._tcp`) from a name server of the test's; `beta.test`'s first record points at
        /// a closed port, so the second is reached only by falling back.
        case srv
        /// Only `_xmpps-server._tcp` records (XEP-0368) for the two servers, pointing at their `s2s_tls_port`: without
        /// direct TLS they cannot find each other.
        case directTLS
    }

    /// Two servers, `alpha.test` and `beta.test`, that know where the other listens; for `alpha.test`,
    /// `nowhere.test` is a closed port and `stall.test` is `stallPort` (the scenario listens there and never answers),
    /// and a remote has 3 s to get ready. With `authority`, each server has a certificate from it for its domain and
    /// subdomains, trusts it for remote servers, and takes no dialback (`s2s_secure_auth`).
    static func withTwoDomains<T: Sendable>(_ resolution: Resolution = .configured, authority: TestCertificateAuthority? = nil,
                                            _ body: @Sendable (TestServer, TestServer, _ s2sPortB: Int, _ stallPort: Int) async throws -> T) async throws -> T? {
        try await TestGate.servers.run {
            let (portA, portB) = (try LoopbackPort.free(), try LoopbackPort.free())
            let (closedPort, stallPort) = (try LoopbackPort.free(), try LoopbackPort.free())
            let places = ["alpha.test": portA, "beta.test": portB, "nowhere.test": closedPort, "stall.test": stallPort]
            let tlsPlaces = ["alpha.test": try LoopbackPort.free(), "beta.test": try LoopbackPort.free()]
            var dns: FakeDNSServer?
            if resolution == .directTLS {
                var records: [String: [DNSMessage.SRVRecord]] = [:]
                for (domain, port) in places {
                    let record = [DNSMessage.SRVRecord(priority: 10, weight: 0, port: UInt16(port), target: "127.0.0.1")]
                    if let tlsPort = tlsPlaces[domain] {
                        let direct = [DNSMessage.SRVRecord(priority: 10, weight: 0, port: UInt16(tlsPort), target: "127.0.0.1")]
                        records["_xmpps-server._tcp.\(domain)"] = direct
                        records["_xmpps-server._tcp.conference.\(domain)"] = direct
                    } else {
                        records["_xmpp-server._tcp.\(domain)"] = record
                    }
                }
                dns = try await FakeDNSServer.start(records: records)
            } else if resolution == .srv {
                var records = places.mapValues { [DNSMessage.SRVRecord(priority: 10, weight: 0, port: UInt16($0), target: "127.0.0.1")] }
                records["beta.test"]?.insert(DNSMessage.SRVRecord(priority: 0, weight: 0, port: UInt16(closedPort), target: "127.0.0.1"), at: 0)
                // A service domain has records of its own, as on the Internet (s2s_hosts entries cover subdomains).
                records["conference.beta.test"] = records["beta.test"]
                records["conference.alpha.test"] = records["alpha.test"]
                dns = try await FakeDNSServer.start(records: Dictionary(uniqueKeysWithValues: records.map { ("_xmpp-server._tcp.\($0.key)", $0.value) }))
            }
            func configure(_ configuration: inout ServerConfiguration, domain: String) {
                configuration.domain = domain
                try? ConfigFile.set("s2s_port", to: String(places[domain]!), in: &configuration)
                try? ConfigFile.set("s2s_setup_seconds", to: "3", in: &configuration)
                if resolution == .directTLS { try? ConfigFile.set("s2s_tls_port", to: String(tlsPlaces[domain]!), in: &configuration) }
                if let authority {
                    // Where the server looks for its certificate before making a self-signed one.
                    let directory = configuration.dataDirectory
                    try? authority.issue([domain, "*.\(domain)"], certificatePath: "\(directory)/\(domain).crt", keyPath: "\(directory)/\(domain).key")
                    try? ConfigFile.set("s2s_ca_file", to: authority.certificatePath, in: &configuration)
                    try? ConfigFile.set("s2s_secure_auth", to: "on", in: &configuration)
                }
                if let dns {
                    try? ConfigFile.set("s2s_dns_servers", to: dns.address, in: &configuration)
                } else {
                    let others = places.filter { $0.key != domain }.map { "\($0.key)=127.0.0.1:\($0.value)" }
                    try? ConfigFile.set("s2s_hosts", to: others.joined(separator: ", "), in: &configuration)
                }
            }
            let alpha = try await TestServer.start(storage: "memory") { configure(&$0, domain: "alpha.test") }
            let beta = try await TestServer.start(storage: "memory") { configure(&$0, domain: "beta.test") }
            do {
                let result = try await body(alpha, beta, portB, stallPort)
                await alpha.stop()
                await beta.stop()
                await dns?.stop()
                return result
            } catch {
                await alpha.stop()
                await beta.stop()
                await dns?.stop()
                throw error
            }
        }
    }

    /// The servers find each other through `s2s_hosts`, or through SRV records (falling back from a dead first target),
    /// or through XEP-0368 records only (TLS from the first byte).
    @Test(arguments: [Resolution.configured, .srv, .directTLS])
    func twoXMPPDDomains(resolution: Resolution) async throws {
        let result = try await Self.withTwoDomains(resolution) { alpha, beta, s2sPortB, stallPort in
            let script = try #require(Bundle.module.url(forResource: "slixmpp_federation_scenario", withExtension: "py", subdirectory: "Interop"))
            let scenario = try await runProcess(["python3", "-u", script.path, "127.0.0.1",
                                         String(alpha.port), String(alpha.tlsPort), "alpha.test", alpha.certificatePath,
                                         String(beta.port), "beta.test", beta.certificatePath, String(s2sPortB), "nowhere.test",
                                         String(stallPort)],
                                        timeout: 240)
            // The streams stay up after the scenario (until s2s_idle_seconds): xmppctl lists them with their directions.
            let remote = try await runProcess([builtExecutable("xmppctl"), "remote-domains", "--data-dir", alpha.directory], timeout: 30)
            #expect(remote.status == 0 && remote.output.split(separator: "\n").contains("beta.test in out"), "\(remote.output)")
            #expect(remote.output.contains("conference.beta.test"), "\(remote.output)")
            #expect(!remote.output.contains("nowhere.test") && !remote.output.contains("stall.test"), "\(remote.output)")
            // And /metrics counts them (and beta's room service the rooms).
            let port = try #require(alpha.httpPort)
            let metrics = try await runProcess(["python3", "-c", "import urllib.request; print(urllib.request.urlopen("
                                                + "'http://127.0.0.1:\(port)/metrics').read().decode())"], timeout: 30).output
            #expect(metrics.contains("xmpp_s2s_domains{direction=\"out\"} 2") && metrics.contains("xmpp_s2s_domains{direction=\"in\"} 2"),
                    "\(metrics)")
            #expect(metrics.contains("xmpp_module_figure{name=\"muc_rooms\"}"), "\(metrics)")
            return scenario
        }
        let (status, output) = try #require(result)
        #expect(status == 0, "federation scenario failed:\n\(output)")
        #expect(output.contains("scenario complete"), "\(output)")
        let steps = output.split(separator: "\n").filter { $0.hasPrefix("ok ") }
        #expect(steps.count == 8, "steps: \(steps)")
    }

    /// Both servers have certificates from one CA and take nothing else (`s2s_secure_auth`): the whole scenario runs
    /// on SASL EXTERNAL both ways (dialback would be refused), the room service's domain covered by a wildcard name.
    /// Then a raw server claims `alpha.test` with the right certificate, the CA's certificate for another name, another
    /// CA's for the name, and none (Interop/s2s_certificate_scenario.py).
    @Test func certificatesFromALocalCA() async throws {
        let directory = NSTemporaryDirectory() + "s2s-ca-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let authority = try TestCertificateAuthority(name: "test-ca", directory: directory)
        try authority.issue(["mallory.test"], certificatePath: "\(directory)/mallory.crt", keyPath: "\(directory)/mallory.key")
        let rogue = try TestCertificateAuthority(name: "rogue-ca", directory: directory)
        try rogue.issue(["alpha.test"], certificatePath: "\(directory)/rogue.crt", keyPath: "\(directory)/rogue.key")
        let result = try await Self.withTwoDomains(authority: authority) { alpha, beta, s2sPortB, _ in
            let script = try #require(Bundle.module.url(forResource: "slixmpp_federation_scenario", withExtension: "py", subdirectory: "Interop"))
            let scenario = try await runProcess(["python3", "-u", script.path, "127.0.0.1",
                                                 String(alpha.port), String(alpha.tlsPort), "alpha.test", authority.certificatePath,
                                                 String(beta.port), "beta.test", authority.certificatePath, String(s2sPortB)],
                                                timeout: 240)
            // Every domain on alpha's streams, both ways, came in on a certificate; none by dialback.
            let port = try #require(alpha.httpPort)
            let metrics = try await runProcess(["python3", "-c", "import urllib.request; print(urllib.request.urlopen("
                                                + "'http://127.0.0.1:\(port)/metrics').read().decode())"], timeout: 30).output
            #expect(metrics.contains("xmpp_module_figure{name=\"s2s_authenticated_by_dialback\"} 0"), "\(metrics)")
            #expect(!metrics.contains("xmpp_module_figure{name=\"s2s_authenticated_by_certificate\"} 0")
                    && metrics.contains("xmpp_module_figure{name=\"s2s_authenticated_by_certificate\"}"), "\(metrics)")
            let raw = try #require(Bundle.module.url(forResource: "s2s_certificate_scenario", withExtension: "py", subdirectory: "Interop"))
            let refusals = try await runProcess(["python3", "-u", raw.path, "127.0.0.1", String(s2sPortB), "alpha.test", "beta.test",
                                                 authority.certificatePath, alpha.certificatePath, "\(alpha.directory)/alpha.test.key",
                                                 "\(directory)/mallory.crt", "\(directory)/mallory.key",
                                                 "\(directory)/rogue.crt", "\(directory)/rogue.key"], timeout: 120)
            return (scenario, refusals)
        }
        let (scenario, refusals) = try #require(result)
        #expect(scenario.status == 0, "federation scenario on certificates failed:\n\(scenario.output)")
        #expect(scenario.output.split(separator: "\n").filter { $0.hasPrefix("ok ") }.count == 7, "\(scenario.output)")
        #expect(refusals.status == 0 && refusals.output.contains("scenario complete"), "certificate refusals:\n\(refusals.output)")
        #expect(refusals.output.split(separator: "\n").filter { $0.hasPrefix("ok ") }.count == 3, "\(refusals.output)")
    }

    /// xmppd (`alpha.test`) and Prosody (`localhost`) federate both ways: each verifies the other's dialback key by
    /// calling back, over STARTTLS (Prosody requires it).
    @Test func xmppdAndProsody() async throws {
        try await Self.runWithProsody(authority: nil)
    }

    /// xmppd and Prosody with certificates from one CA, both taking nothing else (`s2s_secure_auth`): SASL EXTERNAL
    /// both ways, Prosody's certificate checked by xmppd and xmppd's by Prosody (LuaSec).
    @Test func xmppdAndProsodyOnCertificates() async throws {
        let directory = NSTemporaryDirectory() + "s2s-ca-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await Self.runWithProsody(authority: try TestCertificateAuthority(name: "test-ca", directory: directory))
    }

    /// The same with `alpha.test` a virtual host of an xmppd whose first domain is `xmppd.test` (self-signed): Prosody
    /// checks the certificate configured for alpha.test (`certificate.alpha.test`), which the incoming stream to
    /// alpha.test and alpha's outgoing streams present, and alpha's clients get it over STARTTLS.
    @Test func prosodyAndAVirtualHostOnCertificates() async throws {
        let directory = NSTemporaryDirectory() + "s2s-ca-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try await Self.runWithProsody(authority: try TestCertificateAuthority(name: "test-ca", directory: directory), virtualHost: true)
    }

    /// xmppd (`alpha.test`) and ejabberd 23.01 (`ejabberd.test`) federate both ways by dialback over STARTTLS, ejabberd
    /// finding xmppd through SRV records from the test's name server: the same scenario as with Prosody.
    ///
    /// xmppd's certificate comes from a CA ejabberd does not know: xmppd tries SASL EXTERNAL (it is not self-signed),
    /// ejabberd refuses it, and xmppd falls back to dialback on a new connection (ejabberd takes no dialback on the
    /// stream where SASL failed).
    @Test func xmppdAndEjabberd() async throws {
        let (output, log, _) = try await Self.runWithEjabberd(certificatesOnly: false)
        // The fallback happened: ejabberd saw our certificate and refused it before dialback went through.
        #expect(log.contains("Failed inbound s2s EXTERNAL authentication alpha.test"), "\(log)")
        #expect(output.contains("scenario complete"), "\(output)")
    }

    /// xmppd and ejabberd with certificates from one CA and no dialback on either side (xmppd's `s2s_secure_auth`,
    /// ejabberd without mod_s2s_dialback, trusting the CA by `s2s_cafile`): SASL EXTERNAL both ways, each checking the
    /// other's certificate.
    @Test func xmppdAndEjabberdOnCertificates() async throws {
        let (_, _, figures) = try await Self.runWithEjabberd(certificatesOnly: true)
        #expect(figures.contains("xmpp_module_figure{name=\"s2s_authenticated_by_dialback\"} 0")
                && !figures.contains("xmpp_module_figure{name=\"s2s_authenticated_by_certificate\"} 0"), "\(figures)")
    }

    /// Runs the scenario between xmppd's `alpha.test` (certificate from a test CA) and ejabberd's `ejabberd.test`,
    /// which trusts that CA and has no dialback when `certificatesOnly` (xmppd then takes certificates only too), and
    /// checks its 7 steps passed; returns its output, ejabberd's log and xmppd's `/metrics`.
    private static func runWithEjabberd(certificatesOnly: Bool) async throws -> (output: String, log: String, figures: String) {
        let xmppdS2S = try LoopbackPort.free()
        let directory = NSTemporaryDirectory() + "s2s-ca-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let authority = try TestCertificateAuthority(name: "test-ca", directory: directory)
        let result = try await EjabberdServer.with(domain: "ejabberd.test", remotes: ["alpha.test": xmppdS2S],
                                                   authority: certificatesOnly ? authority : nil) { ejabberd in
            let alpha = try await TestServer.start(storage: "memory") { configuration in
                configuration.domain = "alpha.test"
                let data = configuration.dataDirectory
                try? authority.issue(["alpha.test", "*.alpha.test"], certificatePath: "\(data)/alpha.test.crt", keyPath: "\(data)/alpha.test.key")
                try? ConfigFile.set("s2s_port", to: String(xmppdS2S), in: &configuration)
                try? ConfigFile.set("s2s_hosts", to: "ejabberd.test=127.0.0.1:\(ejabberd.s2sPort)", in: &configuration)
                if certificatesOnly {
                    try? ConfigFile.set("s2s_ca_file", to: authority.certificatePath, in: &configuration)
                    try? ConfigFile.set("s2s_secure_auth", to: "on", in: &configuration)
                }
            }
            let script = try #require(Bundle.module.url(forResource: "slixmpp_federation_scenario", withExtension: "py", subdirectory: "Interop"))
            let result = try? await runProcess(["python3", "-u", script.path, "127.0.0.1",
                                                String(alpha.port), String(alpha.tlsPort), "alpha.test", authority.certificatePath,
                                                String(ejabberd.port), "ejabberd.test",
                                                certificatesOnly ? authority.certificatePath : ejabberd.certificatePath, String(ejabberd.s2sPort)],
                                               timeout: 240)
            let port = try #require(alpha.httpPort)
            let figures = (try? await runProcess(["python3", "-c", "import urllib.request; print(urllib.request.urlopen("
                                                  + "'http://127.0.0.1:\(port)/metrics').read().decode())"], timeout: 30).output) ?? ""
            await alpha.stop()
            return result.map { ($0.status, $0.output, ejabberd.logTail, figures) }
        }
        let (status, output, log, figures) = try #require(result)
        #expect(status == 0, "federation scenario with ejabberd failed:\n\(output)\nejabberd's log:\n\(log)")
        #expect(output.split(separator: "\n").filter { $0.hasPrefix("ok ") }.count == 7, "\(output)")
        return (output, log, figures)
    }

    private static func runWithProsody(authority: TestCertificateAuthority?, virtualHost: Bool = false) async throws {
        let (xmppdS2S, prosodyS2S) = (try LoopbackPort.free(), try LoopbackPort.free())
        let federation = ProsodyServer.Federation(s2sPort: prosodyS2S, hosts: ["alpha.test": xmppdS2S], authority: authority)
        let result = try await ProsodyServer.with(federation: federation) { prosody in
            let alpha = try await TestServer.start(storage: "memory") { configuration in
                configuration.domain = "alpha.test"
                try? ConfigFile.set("s2s_port", to: String(xmppdS2S), in: &configuration)
                try? ConfigFile.set("s2s_hosts", to: "localhost=127.0.0.1:\(prosodyS2S)", in: &configuration)
                if let authority {
                    let directory = configuration.dataDirectory
                    let (certificate, key) = virtualHost
                        ? ("\(directory)/alpha-host.crt", "\(directory)/alpha-host.key") : ("\(directory)/alpha.test.crt", "\(directory)/alpha.test.key")
                    try? authority.issue(["alpha.test", "*.alpha.test"], certificatePath: certificate, keyPath: key)
                    if virtualHost {
                        try? ConfigFile.set("domains", to: "xmppd.test, alpha.test", in: &configuration)
                        try? ConfigFile.set("certificate.alpha.test", to: certificate, in: &configuration)
                        try? ConfigFile.set("private_key.alpha.test", to: key, in: &configuration)
                    }
                    try? ConfigFile.set("s2s_ca_file", to: authority.certificatePath, in: &configuration)
                    try? ConfigFile.set("s2s_secure_auth", to: "on", in: &configuration)
                }
            }
            let script = try #require(Bundle.module.url(forResource: "slixmpp_federation_scenario", withExtension: "py", subdirectory: "Interop"))
            let result = try? await runProcess(["python3", "-u", script.path, "127.0.0.1",
                                                String(alpha.port), String(alpha.tlsPort), "alpha.test",
                                                authority?.certificatePath ?? alpha.certificatePath,
                                                String(prosody.port), "localhost", authority?.certificatePath ?? prosody.certificatePath,
                                                String(prosodyS2S)],
                                               timeout: 240)
            var figures = ""
            if let port = alpha.httpPort {
                figures = (try? await runProcess(["python3", "-c", "import urllib.request; print(urllib.request.urlopen("
                                                  + "'http://127.0.0.1:\(port)/metrics').read().decode())"], timeout: 30).output) ?? ""
            }
            await alpha.stop()
            return result.map { ($0, figures) }
        }
        let ((status, output), figures) = try #require(result)
        #expect(status == 0, "federation scenario with Prosody failed:\n\(output)")
        #expect(output.contains("scenario complete"), "\(output)")
        #expect(output.split(separator: "\n").filter { $0.hasPrefix("ok ") }.count == 7, "\(output)")
        // Which way the domains were authenticated, on xmppd's side (both directions counted).
        let noneByDialback = figures.contains("xmpp_module_figure{name=\"s2s_authenticated_by_dialback\"} 0")
        let noneByCertificate = figures.contains("xmpp_module_figure{name=\"s2s_authenticated_by_certificate\"} 0")
        #expect(authority == nil ? noneByCertificate && !noneByDialback : noneByDialback && !noneByCertificate, "\(figures)")
    }
}
