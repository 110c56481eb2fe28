import Foundation
import Testing
import XMPPServer
import XMPPServerKernel
import XMPPTestSupport

/// What `xmppd` and `xmppctl` say when something is wrong: the file or port at fault and what to do, with the
/// exit statuses their `--help` documents, never a Foundation or NIO dump.
@Suite struct ToolFailureTests {
    func expectPlain(_ result: (status: Int32, output: String), status: Int32, saying phrases: [String],
                     sourceLocation: SourceLocation = #_sourceLocation) {
        let problems = ToolOutput(result).problems(status: status, saying: phrases)
        #expect(problems.isEmpty, "\(problems.joined(separator: "; ")) in:\n\(result.output)", sourceLocation: sourceLocation)
    }

    func temporaryDirectory() throws -> String {
        let directory = NSTemporaryDirectory() + "xmppd-tools-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        return directory
    }

    /// A self-signed certificate and key for `domain`, made by openssl (as an operator would), in `directory`.
    func certificate(for domain: String, in directory: String, named name: String, days: Int = 400) async throws -> (certificate: String, key: String) {
        let (certificate, key) = ("\(directory)/\(name).crt", "\(directory)/\(name).key")
        let made = try await runProcess(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                                         "-keyout", key, "-out", certificate, "-subj", "/CN=\(domain)", "-days", String(days)], timeout: 30)
        try #require(made.status == 0, "\(made.output)")
        return (certificate, key)
    }

    @Test("xmppd: a missing config file, a bad option, a missing certificate exit 1 naming the culprit")
    func daemonConfigurationErrors() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let missing = try await runProcess([builtExecutable("xmppd"), "--config", "\(directory)/none.conf"], timeout: 30)
        expectPlain(missing, status: 1, saying: ["\(directory)/none.conf: no such config file", "hint:"])
        let fromEnvironment = try await runProcess(["env", "XMPPD_CONFIG=\(directory)/env.conf", builtExecutable("xmppd")], timeout: 30)
        expectPlain(fromEnvironment, status: 1, saying: ["\(directory)/env.conf: no such config file"])
        let unknown = try await runProcess([builtExecutable("xmppd"), "--data-dir", directory, "--set", "no_such_option=1"], timeout: 30)
        expectPlain(unknown, status: 1, saying: ["unknown option no_such_option", "--list-options"])
        let configFile = "\(directory)/xmppd.conf"
        try "certificate = \(directory)/nope.pem\nprivate_key = \(directory)/nope.key\n".write(toFile: configFile, atomically: true, encoding: .utf8)
        let noCertificate = try await runProcess([builtExecutable("xmppd"), "--config", configFile, "--data-dir", directory], timeout: 30)
        expectPlain(noCertificate, status: 1, saying: ["the certificate file \(directory)/nope.pem does not exist", "xmppctl check"])
        let halfConfigured = try await runProcess([builtExecutable("xmppd"), "--data-dir", directory, "--set", "certificate=/etc/x.pem"], timeout: 30)
        expectPlain(halfConfigured, status: 1, saying: ["give both certificate and private_key"])
    }

    @Test("xmppd: a port in use exits 3 saying so; a start logs what it serves, each port once")
    func daemonStartup() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let taken = try await runProcess([builtExecutable("xmppd"), "--data-dir", directory, "--bind", "127.0.0.1",
                                          "--c2s-port", String(server.port), "--c2s-tls-port", "off", "--http-port", "off", "--https-port", "off", "--set", "proxy_port=0", "--set", "s2s_port=0"], timeout: 30)
        expectPlain(taken, status: 3, saying: ["cannot listen on port \(server.port): the port is in use by another program",
                                               "--c2s-port"])

        // Two loopback addresses on the same two (free) ports; `timeout` stops it with SIGTERM once it has logged its start.
        let probe = try await TestServer.start()
        let (port, tlsPort) = (probe.port, probe.tlsPort)
        await probe.stop()
        let started = try await runProcess(["timeout", "4", builtExecutable("xmppd"), "--data-dir", directory, "--bind", "127.0.0.1",
                                            "--bind", "127.0.0.2", "--c2s-port", String(port), "--c2s-tls-port", String(tlsPort), "--http-port", "off", "--https-port", "off", "--set", "proxy_port=0", "--set", "s2s_port=0"], timeout: 30)
        let summary = try #require(started.output.split(separator: "\n").first { $0.contains("xmppd is serving") }, "\(started.output)")
        for part in ["domain=localhost", "registration=closed", "storage=sqlite \(directory)/xmppd.sqlite",
                     "services=conference.localhost", "config=none", "certificate=\(directory)/localhost.crt (self-signed)"] {
            #expect(summary.contains(part), "missing \(part): \(summary)")
        }
        let ports = try #require(summary.firstMatch(of: #/ports=([0-9, ]+) on/#), "\(summary)")
        let numbers = ports.output.1.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        #expect(numbers == [String(port), String(tlsPort)], "each port once, though bound on two addresses: \(summary)")
        #expect(summary.contains("on 127.0.0.1, 127.0.0.2"), "\(summary)")
    }

    @Test("xmppctl: no server, a bad JID, an existing or missing account; --config and XMPPD_CONFIG find the data")
    func controlErrors() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let ctl = builtExecutable("xmppctl")
        for help in [[ctl], [ctl, "--help"], [ctl, "check", "--help"], [builtExecutable("xmppd"), "--help"]] {
            let shown = try await runProcess(help, timeout: 30)
            #expect(shown.status == 0 && shown.output.contains("OVERVIEW:"), "\(help): \(shown.output)")
        }
        let noServer = try await runProcess([ctl, "sessions", "--data-dir", directory], timeout: 30)
        expectPlain(noServer, status: 3, saying: ["xmppd is not running here", "\(directory)/xmppd.sock", "--config FILE"])
        let noDatabase = try await runProcess([ctl, "users", "--data-dir", directory], timeout: 30)
        expectPlain(noDatabase, status: 3, saying: ["no xmppd database at \(directory)/xmppd.sqlite"])
        let badJID = try await runProcess([ctl, "kick", "bad@@jid", "--data-dir", directory], timeout: 30)
        expectPlain(badJID, status: 1, saying: ["not a JID: bad@@jid", "xmppctl kick"])

        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let configFile = "\(directory)/xmppd.conf"
        try "data_dir = \(server.directory)\nbind = 127.0.0.1\nc2s_port = \(server.port)\nc2s_tls_port = \(server.tlsPort)\n"
            .write(toFile: configFile, atomically: true, encoding: .utf8)
        let created = try await runProcess([ctl, "adduser", "alice", "--config", configFile], input: "wonderland\n", timeout: 30)
        #expect(created.status == 0 && created.output == "created alice\n", "no prompt when the password is piped: \(created.output)")
        let again = try await runProcess([ctl, "adduser", "alice", "--password", "x", "--config", configFile], timeout: 30)
        expectPlain(again, status: 4, saying: ["alice already exists", "xmppctl passwd alice"])
        let noAccount = try await runProcess([ctl, "passwd", "zed", "--password", "x", "--config", configFile], timeout: 30)
        expectPlain(noAccount, status: 4, saying: ["no account zed"])
        let removeMissing = try await runProcess([ctl, "deluser", "zed", "--config", configFile], timeout: 30)
        expectPlain(removeMissing, status: 4, saying: ["no account zed"])
        let users = try await runProcess(["env", "XMPPD_CONFIG=\(configFile)", ctl, "users"], timeout: 30)
        #expect(users.status == 0 && users.output == "alice\n", "XMPPD_CONFIG names the server's data: \(users.output)")
        let sessions = try await runProcess([ctl, "sessions", "--config", configFile], timeout: 30)
        #expect(sessions.status == 0 && sessions.output.contains("no sessions"), "\(sessions.output)")
        let spacedResource = try await runProcess([ctl, "kick", "alice@localhost/my phone", "--config", configFile], timeout: 30)
        #expect(spacedResource.status == 0 && spacedResource.output == "kicked 0\n", "a resource with a space: \(spacedResource.output)")

        let checked = try await runProcess([ctl, "check", "--config", configFile], timeout: 30)
        #expect(checked.status == 0 && checked.output.contains("no problems found")
                && checked.output.contains("xmppd is running with this data directory"), "\(checked.output)")
    }

    @Test("xmppctl check looks at every port xmppd would listen on: the web listener's too")
    func checkSeesTheWebPorts() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let other = try await TestServer.start(storage: "memory")
        defer { Task { await other.stop() } }
        let configFile = "\(directory)/xmppd.conf"
        try "data_dir = \(directory)/data\nbind = 127.0.0.1\nc2s_port = 0\nc2s_tls_port = off\nhttp_port = \(other.port)\nhttps_port = off\nproxy_port = 0\ns2s_port = 0\n"
            .write(toFile: configFile, atomically: true, encoding: .utf8)
        let checked = try await runProcess([builtExecutable("xmppctl"), "check", "--config", configFile], timeout: 30)
        expectPlain(checked, status: 2, saying: ["port \(other.port) on 127.0.0.1 is in use by another program"])
    }

    @Test("xmppctl check: a key of another certificate and a certificate for another name are problems (exit 2)")
    func checkFindsCertificateProblems() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let mine = try await certificate(for: "localhost", in: directory, named: "mine")
        let other = try await certificate(for: "other.example", in: directory, named: "other")
        let configFile = "\(directory)/xmppd.conf"
        try "data_dir = \(directory)/data\nbind = 127.0.0.1\nc2s_port = 0\nc2s_tls_port = off\nhttp_port = off\nhttps_port = off\nproxy_port = 0\ns2s_port = 0\ncertificate = \(other.certificate)\nprivate_key = \(mine.key)\n"
            .write(toFile: configFile, atomically: true, encoding: .utf8)
        let checked = try await runProcess([builtExecutable("xmppctl"), "check", "--config", configFile], timeout: 30)
        expectPlain(checked, status: 2, saying: ["error: the private key \(mine.key) does not belong to the certificate \(other.certificate)",
                                                 "warning: the certificate is for other.example, not localhost",
                                                 "2 problems found"])
        // xmppd refuses the same files with the same words.
        let refused = try await runProcess([builtExecutable("xmppd"), "--config", configFile], timeout: 30)
        expectPlain(refused, status: 1, saying: ["does not belong to the certificate"])

        // In-process: the good pair (400 days) is fine today, expiring in 380 days, expired in 401.
        let today = CertificateCheck.check(certificatePath: mine.certificate, keyPath: mine.key, domain: "localhost")
        #expect(today.allSatisfy { $0.severity == .note } && today.contains { $0.message.contains("self-signed") }, "\(today)")
        let soon = CertificateCheck.check(certificatePath: mine.certificate, keyPath: mine.key, domain: "localhost",
                                          now: Date().addingTimeInterval(380 * 86_400))
        #expect(soon.map(\.severity) == [.warning, .note] && soon[0].message.contains("less than 30 days"), "\(soon)")
        let expired = CertificateCheck.check(certificatePath: mine.certificate, keyPath: mine.key, domain: "localhost",
                                             now: Date().addingTimeInterval(401 * 86_400))
        #expect(expired.contains { $0.severity == .error && $0.message.contains("expired") }, "\(expired)")
        #expect(CertificateCheck.matches("*.example.com", "chat.example.com") && !CertificateCheck.matches("*.example.com", "example.com"))
        #expect(CertificateCheck.matches("LocalHost", "localhost") && !CertificateCheck.matches("*.example.com", "a.b.example.com"))

        // A virtual host's certificate is checked for its own domain; one for a domain not served is an error.
        let hosts = "data_dir = \(directory)/data\nbind = 127.0.0.1\nc2s_port = 0\nc2s_tls_port = off\nhttp_port = off\nhttps_port = off\n"
            + "proxy_port = 0\ns2s_port = 0\ndomains = localhost, b.test\ncertificate = \(mine.certificate)\nprivate_key = \(mine.key)\n"
            + "certificate.b.test = \(other.certificate)\nprivate_key.b.test = \(other.key)\ncertificate.c.test = \(other.certificate)\n"
        try hosts.write(toFile: configFile, atomically: true, encoding: .utf8)
        let hostsChecked = try await runProcess([builtExecutable("xmppctl"), "check", "--config", configFile], timeout: 30)
        expectPlain(hostsChecked, status: 2, saying: ["warning: the certificate is for other.example, not b.test",
                                                      "error: certificate.c.test is set, but c.test is not one of the domains served",
                                                      "2 problems found"])
        let hostsRefused = try await runProcess([builtExecutable("xmppd"), "--config", configFile], timeout: 30)
        expectPlain(hostsRefused, status: 1, saying: ["certificate.c.test is set, but c.test is not one of the domains served"])
        // xmppctl takes only a served domain: a typo would otherwise work on the first domain's accounts.
        let typo = try await runProcess([builtExecutable("xmppctl"), "users", "--config", configFile, "--domain", "b.tset"], timeout: 30)
        expectPlain(typo, status: 1, saying: ["b.tset is not one of the domains the config serves (localhost, b.test)"])
    }
}
