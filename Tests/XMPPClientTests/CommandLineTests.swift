import Foundation
import Testing
import XMPPClient
import XMPPClientSQLite
import XMPPCore
import XMPPServer
import XMPPServerKernel
import XMPPTestSupport

/// The `xmpp` executable (built beside the tests) against an in-process xmppd, as a script would use it.
@Suite("xmpp command")
struct CommandLineTests {
    /// Runs `xmpp` with the server and credential options.
    func xmpp(_ arguments: [String], server: TestServer, jid: String, password: String, input: String? = nil) async throws -> (status: Int32, output: String) {
        return try await runProcess([builtExecutable("xmpp")] + arguments + [
            "--jid", jid, "--password", password, "--server", "127.0.0.1:\(server.port)", "--ca-file", server.certificatePath,
        ], input: input, timeout: 30)
    }

    @Test("send-file to a client running receive-files: directly, through the proxy, in-band; an offer from a stranger is declined")
    func sendAndReceiveFiles() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let directory = NSTemporaryDirectory() + "xmpp-files-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: "\(directory)/in", withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        for (user, password) in [("alice", "pw-a"), ("bob", "pw-b"), ("eve", "pw-e")] {
            #expect(try await xmpp(["register"], server: server, jid: "\(user)@localhost", password: password).status == 0)
        }
        let source = "\(directory)/notes.txt"
        try Data((0..<150_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }).write(to: URL(fileURLWithPath: source))
        let receiver = Task {
            try await xmpp(["receive-files", "--dir", "\(directory)/in", "--accept-from", "alice@localhost", "--count", "3", "--idle", "60"],
                           server: server, jid: "bob@localhost/files", password: "pw-b")
        }
        let bob = try JID("bob@localhost/files")
        for _ in 0..<200 where server.server.kernel.registry.entries(of: bob.bare).isEmpty { try await Task.sleep(for: .milliseconds(50)) }
        let stranger = try await xmpp(["send-file", bob.description, source], server: server, jid: "eve@localhost", password: "pw-e")
        #expect(stranger.status == 4 && stranger.output.contains("declined"), "\(stranger.output)")
        let ways = [(["--method", "jingle"], "(direct)"), (["--method", "si", "--via-proxy"], "(SOCKS5 proxy)"), (["--in-band-only"], "(in-band)")]
        for (arguments, way) in ways {
            let sent = try await xmpp(["send-file", bob.description, source] + arguments, server: server, jid: "alice@localhost", password: "pw-a")
            #expect(sent.status == 0 && sent.output.contains("sent notes.txt to \(bob)"), "\(arguments): \(sent.output)")
            #expect(sent.output.contains(way), "\(sent.output)")
        }
        let received = try await receiver.value
        #expect(received.status == 0, "\(received.output)")
        for name in ["notes.txt", "notes (2).txt", "notes (3).txt"] {
            #expect(received.output.contains("received \(directory)/in/\(name) 150000 from alice@localhost/"), "\(received.output)")
            #expect(FileManager.default.contents(atPath: "\(directory)/in/\(name)") == FileManager.default.contents(atPath: source))
        }
        #expect(received.output.contains("declined notes.txt from eve@localhost/"), "\(received.output)")
        let bare = try await xmpp(["send-file", "bob@localhost", source, "--method", "jingle"], server: server, jid: "alice@localhost", password: "pw-a")
        #expect(bare.status == 1 && bare.output.contains("is a bare JID"), "\(bare.output)")
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

    @Test("block, blocklist, unblock and unblock --all, with usage errors")
    func blockingCommands() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let fixture = ClientFixture(server: server)
        let carol = try fixture.client("carol")
        try await carol.connect(registering: true)
        await carol.disconnect()
        let carolJID = (jid: "carol@localhost", password: "carol-secret")

        let blocked = try await xmpp(["block", "eve@localhost", "spam.example"], server: server, jid: carolJID.jid, password: carolJID.password)
        #expect(blocked.status == 0 && blocked.output.contains("blocked eve@localhost") && blocked.output.contains("blocked spam.example"),
                "\(blocked.output)")
        let listed = try await xmpp(["blocklist"], server: server, jid: carolJID.jid, password: carolJID.password)
        #expect(listed.status == 0 && listed.output.split(separator: "\n") == ["eve@localhost", "spam.example"], "\(listed.output)")
        let one = try await xmpp(["unblock", "eve@localhost"], server: server, jid: carolJID.jid, password: carolJID.password)
        #expect(one.status == 0 && one.output.contains("unblocked eve@localhost"), "\(one.output)")
        let all = try await xmpp(["unblock", "--all"], server: server, jid: carolJID.jid, password: carolJID.password)
        #expect(all.status == 0 && all.output.contains("unblocked everyone"), "\(all.output)")
        let empty = try await xmpp(["blocklist"], server: server, jid: carolJID.jid, password: carolJID.password)
        // No JIDs: only the note for a person (on standard error when piped, as here).
        #expect(empty.status == 0 && empty.output.trimmingCharacters(in: .whitespacesAndNewlines) == "nothing is blocked", "\(empty.output)")
        let usage = try await xmpp(["unblock"], server: server, jid: carolJID.jid, password: carolJID.password)
        #expect(usage.status == 1 && usage.output.contains("--all") && usage.output.contains("usage: xmpp unblock"), "\(usage.output)")
    }

    @Test("muc list, send, join, invite, kick and ban, with the exit status of a refusal")
    func mucCommands() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let fixture = ClientFixture(server: server)
        let bob = try fixture.client("bob")
        let muc = bob.add(MultiUserChatModule())
        try await bob.connect(registering: true)
        let carol = try fixture.client("carol")
        try await carol.connect(registering: true)
        await carol.disconnect()
        let dave = try fixture.client("dave")
        let daveMUC = dave.add(MultiUserChatModule())
        try await dave.connect(registering: true)

        let roomJID = try JID("tea@conference.localhost")
        let room = muc.room(roomJID, nickname: "Bob")
        let events = room.events
        try await room.join()
        try await room.acceptDefaultConfiguration()
        try await room.send("welcome")
        let carolJID = (jid: "carol@localhost", password: "carol-secret")

        let listed = try await xmpp(["muc", "list"], server: server, jid: carolJID.jid, password: carolJID.password)
        #expect(listed.status == 0 && listed.output.contains("tea@conference.localhost"), "\(listed.output)")

        let sent = try await xmpp(["muc", "send", "tea@conference.localhost", "hello room", "--nick", "Carol"],
                                  server: server, jid: carolJID.jid, password: carolJID.password)
        #expect(sent.status == 0, "\(sent.output)")
        #expect(await first(events) { if case .message(let message) = $0 { message.nickname == "Carol" && message.body == "hello room" } else { false } } != nil)

        let joined = try await xmpp(["muc", "join", "tea@conference.localhost"], server: server, jid: carolJID.jid, password: carolJID.password,
                                    input: "typed line\n")
        #expect(joined.status == 0 && joined.output.contains("joined tea@conference.localhost as carol"), "\(joined.output)")
        #expect(await first(events) { if case .message(let message) = $0 { message.nickname == "carol" && message.body == "typed line" } else { false } } != nil)

        let invitations = daveMUC.invitations
        let invited = try await xmpp(["muc", "invite", "tea@conference.localhost", "dave@localhost", "--reason", "tea"],
                                     server: server, jid: carolJID.jid, password: carolJID.password)
        #expect(invited.status == 0, "\(invited.output)")
        #expect(await first(invitations) { $0.room == roomJID && $0.reason == "tea" } != nil)

        let refused = try await xmpp(["muc", "kick", "tea@conference.localhost", "Bob"], server: server, jid: carolJID.jid, password: carolJID.password)
        #expect(refused.status == 4 && refused.output.contains("forbidden"), "\(refused.output)")

        try await room.setAffiliation(.admin, of: try fixture.jid("carol"))
        let banned = try await xmpp(["muc", "ban", "tea@conference.localhost", "eve@localhost", "--reason", "spam"],
                                    server: server, jid: carolJID.jid, password: carolJID.password)
        #expect(banned.status == 0, "\(banned.output)")
        #expect(try await room.users(with: .outcast).map(\.jid) == [try JID("eve@localhost")])
        await bob.disconnect()
        await dave.disconnect()
    }

    @Test("history prints a conversation from the server archive; chat starts with the last messages")
    func historyAndChat() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let fixture = ClientFixture(server: server)
        let bob = try fixture.client("bob")
        let chat = bob.add(ChatModule())
        try await bob.connect(registering: true)
        let registered = try await xmpp(["register"], server: server, jid: "carol@localhost", password: "pw")
        #expect(registered.status == 0)
        for index in 1...4 { _ = try await chat.send("line \(index)", to: try JID("carol@localhost")) }
        try await Task.sleep(for: .milliseconds(300))

        let history = try await xmpp(["history", "bob@localhost", "--limit", "3"], server: server, jid: "carol@localhost", password: "pw")
        #expect(history.status == 0, "\(history.output)")
        let lines = history.output.split(separator: "\n").filter { $0.contains("bob@localhost: line") }
        #expect(lines.map { $0.split(separator: " ", maxSplits: 1).last.map(String.init) } == ["bob@localhost: line 2", "bob@localhost: line 3", "bob@localhost: line 4"],
                "the newest three, oldest first: \(history.output)")
        let future = try await xmpp(["history", "bob@localhost", "--since", "2999-01-01"], server: server, jid: "carol@localhost", password: "pw")
        #expect(future.status == 0 && !future.output.contains("line"), "\(future.output)")
        let badDate = try await xmpp(["history", "bob@localhost", "--since", "someday"], server: server, jid: "carol@localhost", password: "pw")
        #expect(badDate.status == 1 && badDate.output.contains("not a date: someday"), "\(badDate.output)")

        let session = try await xmpp(["chat", "bob@localhost", "--last", "2"], server: server, jid: "carol@localhost", password: "pw", input: "")
        #expect(session.status == 0 && session.output.contains("connected as carol@localhost/"), "\(session.output)")
        // The last two from the archive first; offline messages the archive showed already are not shown again.
        let shownLines = session.output.split(separator: "\n").compactMap { line -> String? in
            guard let marker = line.range(of: "bob@localhost: ") else { return nil }
            return String(line[marker.upperBound...])
        }
        #expect(shownLines.prefix(2) == ["line 3", "line 4"], "\(session.output)")
        #expect(Set(shownLines).count == shownLines.count, "none twice: \(session.output)")
        await bob.disconnect()
    }

    @Test("conversations lists unread counts from the local store; chat marks what it shows read and marks what it sends")
    func conversationsAndMarks() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let fixture = ClientFixture(server: server)
        let bob = try fixture.client("bob")
        let bobChat = bob.add(ChatModule())
        try await bob.connect(registering: true)
        let registered = try await xmpp(["register"], server: server, jid: "carol@localhost", password: "pw")
        #expect(registered.status == 0)
        let store = ["--store", server.directory + "/carol.sqlite"]
        let empty = try await xmpp(["conversations"] + store, server: server, jid: "carol@localhost", password: "pw")
        #expect(empty.status == 0 && empty.output.contains("no conversations"), "\(empty.output)")

        let carol = try JID("carol@localhost")
        for text in ["hi", "are you there?"] { _ = try await bobChat.send(text, to: carol) }
        let unread = try await xmpp(["conversations"] + store, server: server, jid: "carol@localhost", password: "pw")
        #expect(unread.status == 0 && unread.output.contains("bob@localhost\tchat\t2\tare you there?"), "\(unread.output)")

        let bobIncoming = bobChat.messages
        let session = try await xmpp(["chat", "bob@localhost"] + store, server: server, jid: "carol@localhost", password: "pw",
                                     input: "yes, here\n")
        #expect(session.status == 0 && session.output.contains("[delivered] yes, here"), "the receipt marks the line: \(session.output)")
        #expect(await first(bobIncoming) { $0.body == "yes, here" } != nil)
        let read = try await xmpp(["conversations"] + store, server: server, jid: "carol@localhost", password: "pw")
        #expect(read.output.contains("bob@localhost\tchat\t0\tyou: yes, here"), "shown in chat, so read: \(read.output)")
        await bob.disconnect()
    }

    @Test("conversations says which are rooms: a room an app stored in the same store is listed as a room, its last message with the nickname")
    func conversationKinds() async throws {
        let server = try await TestServer.start()
        defer { Task { await server.stop() } }
        let fixture = ClientFixture(server: server)
        let path = server.directory + "/carol-rooms.sqlite"
        // An app of carol's, sharing the store, was in a room where bob spoke, and got a message from bob.
        let (carol, bob) = (try fixture.client("carol", password: "pw"), try fixture.client("bob"))
        let carolMUC = carol.add(MultiUserChatModule())
        let archive = carol.add(MessageArchiveModule(storage: try SQLiteMessageArchive(path: path), synchronizesWithServer: false))
        let (bobMUC, bobChat) = (bob.add(MultiUserChatModule()), bob.add(ChatModule()))
        for client in [carol, bob] { try await client.connect(registering: true) }
        let roomJID = try JID("garden@conference.localhost")
        let carolRoom = carolMUC.room(roomJID, nickname: "Carol")
        try await carolRoom.join()
        if carolRoom.wasCreated { try await carolRoom.acceptDefaultConfiguration() }
        let bobRoom = bobMUC.room(roomJID, nickname: "Bob")
        try await bobRoom.join()
        let events = carolRoom.events
        let said = try await bobRoom.send("hi all")
        _ = try #require(await first(events, timeout: .seconds(15)) { if case .message(let m) = $0 { m.id == said } else { false } })
        _ = try await bobChat.send("just you", to: try fixture.jid("carol"))
        _ = try #require(await first(archive.conversationUpdates, timeout: .seconds(15)) { $0.count == 2 })
        await archive.flushStorage()
        await carol.disconnect()

        let listed = try await xmpp(["conversations", "--store", path], server: server, jid: "carol@localhost", password: "pw")
        #expect(listed.status == 0, "\(listed.output)")
        #expect(listed.output.contains("bob@localhost\tchat\t1\tjust you"), "\(listed.output)")
        #expect(listed.output.contains("garden@conference.localhost\troom\t1\tBob: hi all"), "\(listed.output)")
        await bob.disconnect()
    }
}

/// `xmpp admin` and `xmpp commands` (XEP-0050/XEP-0133) against xmppd and Prosody's mod_admin_adhoc.
@Suite("xmpp admin", .serialized)
struct AdminCommandLineTests {
    func xmpp(_ arguments: [String], _ fixture: ClientFixture, jid: String, password: String) async throws -> (status: Int32, output: String) {
        guard case .caFile(let certificate) = fixture.trust else { throw TestSetupError("the fixture trusts no file") }
        return try await runProcess([builtExecutable("xmpp")] + arguments + [
            "--jid", jid, "--password", password, "--server", "127.0.0.1:\(fixture.port)", "--ca-file", certificate,
        ], timeout: 30)
    }

    @Test("an administrator adds a user, lists who is online and announces; anyone else is refused", arguments: ServerPeer.allCases)
    func administration(peer: ServerPeer) async throws {
        try await peer.run { fixture in
            let admin = try fixture.client("admin", password: "root-pw")
            try await admin.connect(registering: true)
            await admin.disconnect()
            let bob = try fixture.client("bob")
            try await bob.connect(registering: true)
            let announcements = bob.stanzas   // a normal message from xmppd, a headline from Prosody

            let listed = try await xmpp(["commands"], fixture, jid: "admin@localhost", password: "root-pw")
            #expect(listed.status == 0 && listed.output.contains("http://jabber.org/protocol/admin#add-user"), "\(listed.output)")
            let added = try await xmpp(["admin", "users", "add", "carol@localhost", "c4rol"], fixture, jid: "admin@localhost", password: "root-pw")
            #expect(added.status == 0, "\(added.output)")
            let carol = try await xmpp(["status"], fixture, jid: "carol@localhost", password: "c4rol")
            #expect(carol.status == 0, "the new account logs in: \(carol.output)")

            let online = try await xmpp(["admin", "online"], fixture, jid: "admin@localhost", password: "root-pw")
            #expect(online.status == 0 && online.output.contains("bob@localhost"), "\(online.output)")
            let announced = try await xmpp(["admin", "announce", "maintenance at 8"], fixture, jid: "admin@localhost", password: "root-pw")
            #expect(announced.status == 0, "\(announced.output)")
            #expect(await first(announcements) { $0.child("body")?.text == "maintenance at 8" } != nil, "bob got the announcement")

            if peer == .xmppd {
                // Disabled: the right password no longer gets in (account-disabled, exit 2); enabled again, it does.
                let disabled = try await xmpp(["admin", "users", "disable", "carol@localhost"], fixture, jid: "admin@localhost", password: "root-pw")
                #expect(disabled.status == 0, "\(disabled.output)")
                let locked = try await xmpp(["status"], fixture, jid: "carol@localhost", password: "c4rol")
                #expect(locked.status == 2 && locked.output.contains("the account is disabled"), "\(locked.output)")
                let enabled = try await xmpp(["admin", "users", "enable", "carol@localhost"], fixture, jid: "admin@localhost", password: "root-pw")
                #expect(enabled.status == 0, "\(enabled.output)")
                #expect(try await xmpp(["status"], fixture, jid: "carol@localhost", password: "c4rol").status == 0)
            }
            let refused = try await xmpp(["admin", "users", "add", "eve@localhost", "x"], fixture, jid: "bob@localhost", password: "bob-secret")
            #expect(refused.status == 4 && refused.output.contains("refused"), "\(refused.output)")
            await bob.disconnect()
        }
    }
}
