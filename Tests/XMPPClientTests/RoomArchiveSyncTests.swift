import Foundation
import Testing
import XMPPClient
import XMPPClientSQLite
import XMPPCore
import XMPPTestSupport

/// A room's own archive (XEP-0313 at the room's JID) in the local store, against xmppd (`muc_archive`) and Prosody
/// (mod_muc_mam).
@Suite("Room archives in the local store")
struct RoomArchiveSyncTests {
    @Test("entering a room fetches its archive: the newest page the first time, what was said while away (beyond the history) the next; loadEarlier pages back",
          arguments: ServerPeer.allCases)
    func roomArchiveFillsTheStore(peer: ServerPeer) async throws { try await peer.run { fixture in
        let path = NSTemporaryDirectory() + "room-archive-" + UUID().uuidString + ".sqlite"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let (alice, bob) = (try fixture.client("alice"), try fixture.client("bob"))
        let aliceMUC = alice.add(MultiUserChatModule())
        let archive = alice.add(MessageArchiveModule(storage: try SQLiteMessageArchive(path: path), pageSize: 10))
        let bobMUC = bob.add(MultiUserChatModule())
        let bobArchive = bob.add(MessageArchiveModule(synchronizesWithServer: false))
        for client in [alice, bob] { try await client.connect(registering: true) }
        let roomJID = try JID("chronicle@conference.localhost")
        let bobRoom = bobMUC.room(roomJID, nickname: "Bob")
        try await bobRoom.join()
        if bobRoom.wasCreated { try await bobRoom.acceptDefaultConfiguration() }

        // Bob talks alone; alice enters without discussion history, so what she gets comes from the room's archive.
        try await say((1...25).map { "m\($0)" }, in: bobRoom, archive: bobArchive)
        let synchronizations = archive.synchronizations
        let aliceRoom = aliceMUC.room(roomJID, nickname: "Alice")
        try await aliceRoom.join(history: .none)
        _ = try #require(await first(synchronizations, timeout: .seconds(15)) { $0 == 10 }, "the room's newest page")
        await archive.flushStorage()
        #expect(try bodies(archive, roomJID) == (16...25).map { "m\($0)" })
        let scrolled = try await archive.loadEarlier(in: aliceRoom)
        #expect(Set(scrolled.map(\.body)) == Set((6...25).map { "m\($0)" }) && scrolled.count == 20, "\(scrolled.map(\.body))")
        #expect(scrolled.allSatisfy { $0.kind == .room && $0.nickname == "Bob" && $0.direction == .incoming && $0.archiveID != nil })

        let aliceEvents = aliceRoom.events
        let back = try await aliceRoom.send("back soon")
        _ = try #require(await first(aliceEvents, timeout: .seconds(15)) { if case .message(let m) = $0 { m.id == back } else { false } })
        try await aliceRoom.leave()
        // The room's archive stamps have a resolution of one second: what bob says next comes a second later.
        try await Task.sleep(for: .milliseconds(1100))
        try await say((26...30).map { "m\($0)" }, in: bobRoom, archive: bobArchive)
        // The discussion history brings only the last two, maybe stored before the room's archive is read: the archive
        // fills the gap from where the store was when alice entered.
        try await aliceRoom.join(history: .init(maxStanzas: 2))
        _ = try #require(await first(synchronizations, timeout: .seconds(15)) { _ in true }, "what was said while alice was away")
        await archive.flushStorage()
        let all = try archive.messages(with: roomJID)
        #expect(Set(all.map(\.body)) == Set((6...30).map { "m\($0)" } + ["back soon"]) && all.count == 26, "each once: \(all.map(\.body))")
        #expect(all.first { $0.body == "back soon" }?.direction == .outgoing)
        for client in [alice, bob] { await client.disconnect() }
    }}

    /// Sends `lines` to `room`, then waits until the room's archive (read through `archive`) has the last one.
    private func say(_ lines: [String], in room: ChatRoom, archive: MessageArchiveModule) async throws {
        for line in lines { try await room.send(line) }
        for _ in 0..<100 {
            let newest = try await archive.queryServer(archive: room.jid, before: "", max: 1).messages.last
            if newest?.stanza.child("body")?.text == lines.last { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("the room did not archive \(lines.last ?? "")")
    }

    private func bodies(_ archive: MessageArchiveModule, _ room: JID) throws -> [String] {
        try archive.messages(with: room).map(\.body)
    }
}
