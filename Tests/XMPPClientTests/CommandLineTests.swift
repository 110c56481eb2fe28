import Foundation
import Testing
import XMPPClient
import XMPPCore
import XMPPTestSupport

/// The `xmpp` executable (built beside the tests) against an in-process xmppd, as a script would use it.
@Suite("xmpp command")
struct CommandLineTests {
    /// Runs `xmpp` with the server and credential options.
    func xmpp(_ arguments: [String], server: TestServer, jid: String, password: String) async throws -> (status: Int32, output: String) {
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("xmpp").path
        let executable = FileManager.default.isExecutableFile(atPath: binary) ? binary
            : URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../.build/debug/xmpp").path
        return try await runProcess([executable] + arguments + [
            "--jid", jid, "--password", password, "--server", "127.0.0.1:\(server.port)", "--ca-file", server.certificatePath,
        ], timeout: 30)
    }

    @Test("register, status, send, roster add/list, passwd, and exit statuses scripts can test")
    func commands() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let fixture = ClientFixture(server: server)
        let bob = try fixture.client("bob")
        let chat = bob.add(ChatModule())
        try await bob.connect(registering: true)

        let registered = try await xmpp(["register"], server: server, jid: "carol@localhost", password: "pw1")
        #expect(registered.status == 0, "\(registered.output)")
        #expect(registered.output.contains("registered carol@localhost"))

        let status = try await xmpp(["status"], server: server, jid: "carol@localhost", password: "pw1")
        #expect(status.status == 0 && status.output.contains("online carol@localhost/"), "\(status.output)")

        let incoming = chat.messages
        let sent = try await xmpp(["send", "bob@localhost", "hello from a script"], server: server, jid: "carol@localhost", password: "pw1")
        #expect(sent.status == 0, "\(sent.output)")
        #expect(await first(incoming) { _ in true }?.body == "hello from a script")

        let added = try await xmpp(["roster", "add", "bob@localhost", "--name", "Bob", "--group", "Work", "--subscribe"],
                                   server: server, jid: "carol@localhost", password: "pw1")
        #expect(added.status == 0, "\(added.output)")
        let listed = try await xmpp(["roster", "list"], server: server, jid: "carol@localhost", password: "pw1")
        #expect(listed.output.contains("bob@localhost\tnone+ask\tBob\tWork"), "\(listed.output)")

        let changed = try await xmpp(["passwd", "pw2"], server: server, jid: "carol@localhost", password: "pw1")
        #expect(changed.status == 0, "\(changed.output)")
        let refused = try await xmpp(["status"], server: server, jid: "carol@localhost", password: "pw1")
        #expect(refused.status == 2, "\(refused.output)")
        let taken = try await xmpp(["register"], server: server, jid: "carol@localhost", password: "x")
        #expect(taken.status == 4, "\(taken.output)")
        await bob.disconnect()
    }
}
