import Foundation
import Testing
import XMPPClient
import XMPPCore
import XMPPServer
import XMPPServerKernel
import XMPPTestSupport

/// What `xmpp` says when something goes wrong: one line in plain words, a hint, the documented exit status, and no
/// library dumps (errno, BoringSSL, NIO type names) unless --verbose asks for them.
@Suite("xmpp failures")
struct CommandLineFailureTests {
    /// Runs `xmpp` with exactly `arguments` (and `environment` as NAME=value pairs).
    func xmpp(_ arguments: [String], environment: [String] = []) async throws -> (status: Int32, output: String) {
        try await runProcess(environment + [builtExecutable("xmpp")] + arguments, timeout: 30)
    }

    func expectPlain(_ result: (status: Int32, output: String), status: Int32, saying phrases: [String],
                     sourceLocation: SourceLocation = #_sourceLocation) {
        let problems = ToolOutput(result).problems(status: status, saying: phrases)
        #expect(problems.isEmpty, "\(problems.joined(separator: "; ")) in:\n\(result.output)", sourceLocation: sourceLocation)
    }

    @Test("usage errors exit 1 and show the subcommand's usage")
    func usageErrors() async throws {
        for help in [["--help"], ["muc"], ["muc", "join", "--help"]] {
            let shown = try await xmpp(help)
            #expect(shown.status == 0 && shown.output.contains("OVERVIEW:"), "\(help): \(shown.output)")
        }
        let unknown = try await xmpp(["frobnicate"])
        #expect(unknown.status == 1, "\(unknown.output)")
        let missing = try await xmpp(["send"])
        expectPlain(missing, status: 1, saying: ["xmpp send", "<to>"])
        let badJID = try await xmpp(["send", "bad@@jid", "hi", "--jid", "a@localhost", "--password", "x"])
        expectPlain(badJID, status: 1, saying: ["not a JID: bad@@jid", "usage: xmpp send", "xmpp send --help"])
        let noCredentials = try await xmpp(["status"], environment: ["env", "-u", "XMPP_JID", "-u", "XMPP_PASSWORD",
                                                                     "XMPP_ACCOUNTS_FILE=/nonexistent/accounts"])
        expectPlain(noCredentials, status: 1, saying: ["--jid", "XMPP_JID"])
        let badServer = try await xmpp(["status", "--jid", "a@localhost", "--password", "x", "--server", "host:port:x"])
        expectPlain(badServer, status: 1, saying: ["bad --server host:port:x", "hint: write HOST"])
    }

    @Test("no server, an untrusted certificate, a missing CA file, the wrong port kind: exit 3 with a hint")
    func connectionFailures() async throws {
        let stopped = try await TestServer.start()
        let closedPort = stopped.port
        await stopped.stop()
        let refused = try await xmpp(["status", "--jid", "a@localhost", "--password", "x", "--server", "127.0.0.1:\(closedPort)"])
        expectPlain(refused, status: 3, saying: ["cannot connect: nothing accepts connections at 127.0.0.1:\(closedPort)",
                                                 "hint: is xmppd running?"])

        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let account = ["--jid", "alice@localhost", "--password", "pw"]
        let untrusted = try await xmpp(["status", "--server", "127.0.0.1:\(server.port)"] + account)
        expectPlain(untrusted, status: 3, saying: ["the server's certificate is not trusted", "--ca-file", "--insecure"])
        let verbose = try await xmpp(["status", "--server", "127.0.0.1:\(server.port)", "--verbose"] + account)
        #expect(verbose.status == 3 && verbose.output.contains("detail:") && verbose.output.contains("CERTIFICATE_VERIFY_FAILED"),
                "\(verbose.output)")
        let missingCA = try await xmpp(["status", "--server", "127.0.0.1:\(server.port)", "--ca-file", "/nonexistent/ca.pem"] + account)
        expectPlain(missingCA, status: 3, saying: ["cannot read the CA file /nonexistent/ca.pem"])
        let plainToTLS = try await xmpp(["status", "--server", "127.0.0.1:\(server.tlsPort)", "--ca-file", server.certificatePath] + account)
        expectPlain(plainToTLS, status: 3, saying: ["did not speak XMPP", "--direct-tls"])
        let tlsToPlain = try await xmpp(["status", "--server", "127.0.0.1:\(server.port)", "--direct-tls", "--ca-file",
                                         server.certificatePath] + account)
        expectPlain(tlsToPlain, status: 3, saying: ["did not answer with TLS"])
    }

    @Test("refusals: a wrong password exits 2; closed registration, a taken name, a foreign domain exit 4")
    func refusals() async throws {
        let server = try await TestServer.start { $0.kernel.registration = .closed }
        defer { Task { await server.stop() } }
        _ = try await server.server.kernel.createAccount("alice", password: "pw")
        let options = ["--server", "127.0.0.1:\(server.port)", "--ca-file", server.certificatePath]
        let closed = try await xmpp(["register", "--jid", "carol@localhost", "--password", "x"] + options)
        expectPlain(closed, status: 4, saying: ["registration is disabled on this server", "xmppctl adduser"])
        let wrong = try await xmpp(["status", "--jid", "alice@localhost", "--password", "nope"] + options)
        expectPlain(wrong, status: 2, saying: ["authentication failed: wrong password, or no such account"])
        let foreign = try await xmpp(["status", "--jid", "alice@elsewhere.example", "--password", "pw"] + options)
        expectPlain(foreign, status: 4, saying: ["does not serve the JID's domain"])

        let open = try await TestServer.start()
        defer { Task { await open.stop() } }
        _ = try await open.server.kernel.createAccount("alice", password: "pw")
        let taken = try await xmpp(["register", "--jid", "alice@localhost", "--password", "x", "--server", "127.0.0.1:\(open.port)",
                                    "--ca-file", open.certificatePath])
        expectPlain(taken, status: 4, saying: ["the username is taken"])
    }

    @Test("an account file replaces --jid and --password; passwd updates it; empty lists say so")
    func accountFile() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        _ = try await server.server.kernel.createAccount("alice", password: "pw")
        let file = server.directory + "/accounts"
        let text = "# test\n[work]\njid = alice@localhost\npassword = pw\nserver = 127.0.0.1:\(server.port)\nca-file = \(server.certificatePath)\n"
        #expect(FileManager.default.createFile(atPath: file, contents: Data(text.utf8), attributes: [.posixPermissions: 0o644]))
        let environment = ["env", "-u", "XMPP_JID", "-u", "XMPP_PASSWORD", "XMPP_ACCOUNTS_FILE=\(file)"]

        let status = try await xmpp(["status"], environment: environment)
        #expect(status.status == 0 && status.output.contains("online alice@localhost/"), "\(status.output)")
        #expect(status.output.contains("can be read by other users"), "a world-readable password file is pointed out")
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file)

        let unstorable = try await xmpp(["passwd", "n3w ", "--account", "work"], environment: environment)
        expectPlain(unstorable, status: 1, saying: ["cannot start or end with spaces"])
        let changed = try await xmpp(["passwd", "n3w", "--account", "work"], environment: environment)
        #expect(changed.status == 0 && changed.output.contains("updated the password of account work"), "\(changed.output)")
        #expect(String(decoding: FileManager.default.contents(atPath: file) ?? Data(), as: UTF8.self).contains("password = n3w\n"))
        let again = try await xmpp(["status", "--account", "work"], environment: environment)
        #expect(again.status == 0, "the next command logs in with the new password: \(again.output)")

        let unknown = try await xmpp(["status", "--account", "home"], environment: environment)
        expectPlain(unknown, status: 1, saying: ["no account [home]", "the accounts are work"])
        let rooms = try await xmpp(["muc", "list"], environment: environment)
        #expect(rooms.status == 0 && rooms.output.contains("no public rooms on conference.localhost"), "\(rooms.output)")
        let roster = try await xmpp(["roster", "list"], environment: environment)
        #expect(roster.status == 0 && roster.output.contains("the roster is empty"), "\(roster.output)")

        // With the password in the environment, passwd says what is now stale.
        let fromEnvironment = try await xmpp(["passwd", "third", "--server", "127.0.0.1:\(server.port)", "--ca-file", server.certificatePath],
                                             environment: ["env", "XMPP_JID=alice@localhost", "XMPP_PASSWORD=n3w", "XMPP_ACCOUNTS_FILE=/nonexistent"])
        #expect(fromEnvironment.status == 0 && fromEnvironment.output.contains("XMPP_PASSWORD still holds the old password"),
                "\(fromEnvironment.output)")
    }
}
