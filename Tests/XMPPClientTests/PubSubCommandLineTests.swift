import Foundation
import Testing
import XMPPClient
import XMPPCore
import XMPPTestSupport

/// `xmpp avatar`, `xmpp bookmarks` and `xmpp pubsub` as scripts run them, against a real server.
@Suite("xmpp avatar, bookmarks and pubsub commands")
struct PubSubCommandLineTests {
    /// Runs `xmpp` as `user@localhost` (password `user-secret`) against the fixture's server.
    static func xmpp(_ arguments: [String], as user: String, on fixture: ClientFixture) async throws -> ToolOutput {
        guard case .caFile(let certificate) = fixture.trust else { throw TestSetupError("the fixture trusts no CA file") }
        return ToolOutput(try await runProcess([builtExecutable("xmpp")] + arguments + [
            "--jid", "\(user)@localhost", "--password", "\(user)-secret", "--server", "\(fixture.host):\(fixture.port)",
            "--ca-file", certificate,
        ], timeout: 30))
    }

    @Test("pubsub create, publish, items, subscribe --wait, delete; refusals exit 4, usage errors 1", arguments: ServerPeer.allCases)
    func pubsubCommands(peer: ServerPeer) async throws {
        try await peer.run { fixture in
            let admin = try fixture.client("admin")
            let owner = admin.add(PubSubModule())
            try await admin.connect(registering: true)
            #expect(try await Self.xmpp(["register"], as: "bob", on: fixture).status == 0)
            let service = ["--service", "pubsub.localhost"]

            let created = try await Self.xmpp(["pubsub", "create", "news", "--config", "pubsub#access_model=open"] + service, as: "admin", on: fixture)
            #expect(created.status == 0 && created.output.contains("created news"), "\(created.output)")
            let again = try await Self.xmpp(["pubsub", "create", "news"] + service, as: "admin", on: fixture)
            #expect(again.problems(status: 4, saying: ["the node exists already"]).isEmpty, "\(again.output)")

            // Bob waits for one notification while the owner publishes, once his subscription is in place.
            async let waiting = Self.xmpp(["pubsub", "subscribe", "news", "--wait", "1"] + service, as: "bob", on: fixture)
            let bobJID = try fixture.jid("bob")
            var subscribed = false
            for _ in 0..<200 where !subscribed {
                subscribed = try await owner.subscribers(of: "news", on: try JID("pubsub.localhost")).contains { $0.jid == bobJID }
                if !subscribed { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(subscribed, "bob's subscription did not appear")
            let published = try await Self.xmpp(["pubsub", "publish", "news", "<entry xmlns='urn:example:news'>hi</entry>", "--id", "one"] + service, as: "admin", on: fixture)
            #expect(published.status == 0 && published.output.contains("published one"), "\(published.output)")
            let heard = try await waiting
            #expect(heard.status == 0 && heard.output.contains("subscribed news (subscribed)")
                    && heard.output.contains("one\t<entry xmlns='urn:example:news'>hi</entry>"), "\(heard.output)")

            let items = try await Self.xmpp(["pubsub", "items", "news"] + service, as: "bob", on: fixture)
            #expect(items.status == 0 && items.output.hasPrefix("one\t<entry"), "\(items.output)")
            let refused = try await Self.xmpp(["pubsub", "delete", "news"] + service, as: "bob", on: fixture)
            #expect(refused.problems(status: 4, saying: ["the server refused: forbidden"]).isEmpty, "\(refused.output)")
            let deleted = try await Self.xmpp(["pubsub", "delete", "news"] + service, as: "admin", on: fixture)
            #expect(deleted.status == 0 && deleted.output.contains("deleted news"), "\(deleted.output)")
            let gone = try await Self.xmpp(["pubsub", "items", "news"] + service, as: "bob", on: fixture)
            #expect(gone.problems(status: 4, saying: ["no such node or item"]).isEmpty, "\(gone.output)")

            // The own PEP when no service is given.
            let pep = try await Self.xmpp(["pubsub", "publish", "urn:example:mood", "<mood xmlns='urn:example:mood'/>", "--id", "current"], as: "bob", on: fixture)
            #expect(pep.status == 0 && pep.output.contains("published current"), "\(pep.output)")
            #expect(try await Self.xmpp(["pubsub", "items", "urn:example:mood"], as: "bob", on: fixture).output.contains("current\t<mood"))

            for usage in [["pubsub", "create"], ["pubsub", "publish", "news", "not xml"], ["pubsub", "create", "x", "--config", "novalue"]] {
                let result = try await Self.xmpp(usage, as: "bob", on: fixture)
                #expect(result.status == 1, "\(usage): \(result.output)")
            }
            await admin.disconnect()
        }
    }

    @Test("avatar set and get --out; bookmarks add, list, remove", arguments: ServerPeer.allCases)
    func avatarAndBookmarkCommands(peer: ServerPeer) async throws {
        try await peer.run { fixture in
            #expect(try await Self.xmpp(["register"], as: "alice", on: fixture).status == 0)
            #expect(try await Self.xmpp(["register"], as: "bob", on: fixture).status == 0)
            let directory = NSTemporaryDirectory() + "xmpp-avatar-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let image = Array("a tiny avatar".utf8)
            FileManager.default.createFile(atPath: "\(directory)/me.png", contents: Data(image))
            let hash = AvatarInfo.hash(of: image)

            let set = try await Self.xmpp(["avatar", "set", "\(directory)/me.png"], as: "alice", on: fixture)
            #expect(set.status == 0 && set.output.contains("published avatar \(hash)"), "\(set.output)")
            let got = try await Self.xmpp(["avatar", "get", "alice@localhost", "--out", "\(directory)/alice.png"], as: "bob", on: fixture)
            #expect(got.status == 0 && got.output.contains("\(hash)\timage/png\t\(image.count)"), "\(got.output)")
            #expect(FileManager.default.contents(atPath: "\(directory)/alice.png") == Data(image))
            let none = try await Self.xmpp(["avatar", "get", "bob@localhost"], as: "alice", on: fixture)
            #expect(none.problems(status: 4, saying: ["bob@localhost has no avatar"]).isEmpty, "\(none.output)")
            let unknownType = try await Self.xmpp(["avatar", "set", "\(directory)/alice.png.bin"], as: "alice", on: fixture)
            #expect(unknownType.status == 1, "\(unknownType.output)")

            let added = try await Self.xmpp(["bookmarks", "add", "tea@conference.localhost", "--name", "Tea", "--nick", "Al", "--autojoin"], as: "alice", on: fixture)
            #expect(added.status == 0 && added.output.contains("bookmarked tea@conference.localhost"), "\(added.output)")
            let listed = try await Self.xmpp(["bookmarks", "list"], as: "alice", on: fixture)
            #expect(listed.status == 0 && listed.output.contains("tea@conference.localhost\tTea\tAl\tautojoin"), "\(listed.output)")
            let removed = try await Self.xmpp(["bookmarks", "remove", "tea@conference.localhost"], as: "alice", on: fixture)
            #expect(removed.status == 0 && removed.output.contains("removed tea@conference.localhost"), "\(removed.output)")
            let empty = try await Self.xmpp(["bookmarks", "list"], as: "alice", on: fixture)
            #expect(empty.status == 0 && empty.output.trimmingCharacters(in: .whitespacesAndNewlines) == "no bookmarks", "\(empty.output)")
            let notARoom = try await Self.xmpp(["bookmarks", "add", "conference.localhost"], as: "alice", on: fixture)
            #expect(notARoom.status == 1, "\(notARoom.output)")
        }
    }
}
