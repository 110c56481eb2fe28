import Testing
import XMPPClient
import XMPPCore
import XMPPTestSupport

/// What is built on PEP: avatars (XEP-0084, with XEP-0153 vCards as the fallback and XEP-0398 conversion by the
/// server), bookmarks (XEP-0402, XEP-0048) and nicknames (XEP-0172).
@Suite("Avatars, bookmarks and nicknames over PEP")
struct PEPFeatureTests {
    static let red = Avatar(type: "image/png", data: Array("not really a PNG, but red".utf8))
    static let blue = Avatar(type: "image/png", data: Array("not really a PNG, but blue".utf8))

    @Test("an XEP-0084 avatar reaches a contact (notification, fetch), and the vCard of the other kind agrees",
          arguments: ServerPeer.allCases)
    func avatars(peer: ServerPeer) async throws { try await peer.run { fixture in
        let pair = try await ContactPair.make(fixture, ("alice", "bob")) { $0.add(VCardModule()); $0.add(AvatarModule()) }
        let (aliceAvatars, bobAvatars) = (try #require(pair.one.module(AvatarModule.self)), try #require(pair.two.module(AvatarModule.self)))
        let bobVCards = try #require(pair.two.module(VCardModule.self))

        // Alice publishes in PEP only: bob hears of it, and fetches it by its id.
        let updates = bobAvatars.updates
        try await aliceAvatars.publish(Self.red, via: [.pep])
        let update = await first(updates, timeout: .seconds(20)) { $0.jid == pair.oneJID && $0.hash == Self.red.hash }
        #expect(update != nil, "no avatar notification for alice")
        #expect(try await bobAvatars.metadata(of: pair.oneJID) == AvatarInfo(image: Self.red.data, type: "image/png"))
        #expect(try await bobAvatars.avatar(of: pair.oneJID) == Self.red)
        #expect(try await aliceAvatars.metadata()?.id == Self.red.hash, "her own metadata")

        // The server keeps the vCard in step (XEP-0398): a vCard-only client sees the same image.
        #expect(try await bobVCards.fetch(pair.oneJID).photo?.data == Self.red.data, "alice's vCard does not show her PEP avatar")

        // Bob publishes in his vCard only: alice, a PEP client, finds it in PEP.
        try await bobAvatars.publish(Self.blue)
        #expect(try await aliceAvatars.metadata(of: pair.twoJID)?.id == Self.blue.hash, "bob's vCard avatar is not in his PEP")
        #expect(try await aliceAvatars.pepAvatar(of: pair.twoJID) == Self.blue)
        await pair.disconnect()
    } }

    @Test("a vCard avatar is found by a client that asks PEP first; no avatar anywhere reads as none", arguments: ServerPeer.allCases)
    func vCardFallback(peer: ServerPeer) async throws { try await peer.run { fixture in
        let carol = try fixture.client("carol")
        carol.add(VCardModule())
        let carolAvatars = carol.add(AvatarModule())
        try await carol.connect(registering: true)
        let dave = try fixture.client("dave")
        dave.add(VCardModule())
        let daveAvatars = dave.add(AvatarModule())
        try await dave.connect(registering: true)
        // Not contacts. Carol's avatar is in her vCard; a server with XEP-0398 also shows it in her PEP (Prosody does,
        // open to all as the vCard is), one without leaves only the vCard to fall back on.
        try await carolAvatars.publish(Self.blue)
        let inPEP = try await daveAvatars.metadata(of: try fixture.jid("carol"))
        #expect(inPEP == nil || inPEP?.id == Self.blue.hash)
        #expect(try await daveAvatars.avatar(of: try fixture.jid("carol")) == Self.blue)
        // Dave has none: PEP says nothing, the vCard has no photo.
        #expect(try await carolAvatars.metadata(of: try fixture.jid("dave")) == nil)
        #expect(try await carolAvatars.avatar(of: try fixture.jid("dave")) == nil)
        await carol.disconnect()
        await dave.disconnect()
    } }

    @Test("bookmarks: add, list, remove, with the second device of the account notified; XEP-0048 storage",
          arguments: ServerPeer.allCases)
    func bookmarks(peer: ServerPeer) async throws { try await peer.run { fixture in
        let phone = try fixture.client("alice")
        phone.add(DiscoModule())
        let phoneBookmarks = phone.add(BookmarksModule())
        try await phone.connect(registering: true)
        let laptop = XMPPClient(configuration: try fixture.configuration("alice", resource: "laptop"))
        laptop.add(DiscoModule())
        let laptopBookmarks = laptop.add(BookmarksModule())
        try await laptop.connect()
        #expect(try await phoneBookmarks.storage() == .pep)
        #expect(try await laptopBookmarks.list().isEmpty)

        let tea = Bookmark(room: try JID("tea@conference.localhost"), name: "Tea", autojoin: true, nickname: "Al")
        let changes = laptopBookmarks.updates
        try await phoneBookmarks.add(tea)
        #expect(await first(changes, timeout: .seconds(20)) { $0 == .added(tea) } != nil, "the laptop did not hear of the new bookmark")
        #expect(laptopBookmarks.bookmarks == [tea])
        #expect(try await laptopBookmarks.list() == [tea])

        // XEP-0048 in private storage: its own list, and on a server that keeps both in step (#compat), the same one.
        let legacy = XMPPClient(configuration: try fixture.configuration("alice", resource: "legacy"))
        let legacyBookmarks = legacy.add(BookmarksModule(storage: .privateStorage))
        try await legacy.connect()
        let own = try fixture.jid("alice")
        let compat = try await legacy.query(Element("query", namespace: DiscoModule.infoNamespace), to: own)?
            .children("feature").contains { $0.attribute("var") == BookmarksModule.compatFeature } ?? false
        if compat { #expect(try await legacyBookmarks.list() == [tea]) }
        let lounge = Bookmark(room: try JID("lounge@conference.localhost"), name: "Lounge")
        try await legacyBookmarks.add(lounge)
        #expect(try await legacyBookmarks.list().contains(lounge))
        if compat { #expect(try await phoneBookmarks.list().contains(lounge), "a XEP-0048 bookmark is not in XEP-0402") }
        try await legacyBookmarks.remove(lounge.room)
        #expect(try await !legacyBookmarks.list().contains(lounge))

        let removals = laptopBookmarks.updates
        try await phoneBookmarks.remove(tea.room)
        #expect(await first(removals, timeout: .seconds(20)) { $0 == .removed(tea.room) } != nil, "the laptop did not hear of the removal")
        #expect(try await phoneBookmarks.list().isEmpty)
        for client in [phone, laptop, legacy] { await client.disconnect() }
    } }

    @Test("nicknames: published, heard by a contact, fetched, cleared", arguments: ServerPeer.allCases)
    func nicknames(peer: ServerPeer) async throws { try await peer.run { fixture in
        let pair = try await ContactPair.make(fixture, ("alice", "bob")) { $0.add(NicknameModule()) }
        let (aliceNicknames, bobNicknames) = (try #require(pair.one.module(NicknameModule.self)), try #require(pair.two.module(NicknameModule.self)))
        let updates = bobNicknames.updates
        try await aliceNicknames.publish("Ally")
        #expect(await first(updates, timeout: .seconds(20)) { $0.jid == pair.oneJID && $0.nickname == "Ally" } != nil)
        #expect(bobNicknames.nickname(for: pair.oneJID) == "Ally")
        #expect(try await bobNicknames.fetch(pair.oneJID) == "Ally")
        #expect(try await aliceNicknames.fetch() == "Ally")
        let cleared = bobNicknames.updates
        try await aliceNicknames.publish(nil)
        #expect(await first(cleared, timeout: .seconds(20)) { $0.jid == pair.oneJID && $0.nickname == nil } != nil)
        #expect(try await bobNicknames.fetch(pair.oneJID) == nil)
        await pair.disconnect()
    } }
}
