import Testing
import XMPPCore
import XMPPKernelTestSupport
import XMPPServerKernel
import XMPPServerPubSub

/// XEP-0398 (vCard and PEP avatars are one), XEP-0049 private storage, and XEP-0402 bookmarks with their
/// XEP-0048 view.
@Suite struct ConversionTests {
    typealias S = PubSubScenario
    static let image: [UInt8] = Array("a tiny fake image".utf8)

    @Test func aVCardPhotoBecomesAPEPAvatarAndThePresenceCarriesItsHash() async throws {
        let scenario = try S.make()
        for user in ["alice", "bob"] { try await scenario.account(user) }
        let alice = try await scenario.login("alice")
        let bob = try await S.loginWithCaps(scenario, "bob", "desk", notify: [PEPNode.avatarMetadata])
        try await PEPTests.befriend(alice, bob)
        _ = (alice.received(), bob.received())
        let vCard = "<vCard xmlns='vcard-temp'><FN>Alice</FN><PHOTO><TYPE>image/png</TYPE><BINVAL>\(Base64.encode(Self.image))</BINVAL></PHOTO></vCard>"
        #expect(try await S.ask(alice, "v1", "set", vCard).attribute("type") == "result")
        let id = AvatarInfo.hash(of: Self.image)
        let notification = try #require(await S.event(bob, node: PEPNode.avatarMetadata))
        let metadata = try #require(notification.child("event")?.child("items")?.child("item")?.child("metadata", namespace: AvatarInfo.metadataNamespace))
        #expect(AvatarInfo(metadata: metadata)?.id == id && AvatarInfo(metadata: metadata)?.type == "image/png")
        let data = try await S.ask(bob, "d1", "get", to: "alice@example.com", S.pubsub("<items node='\(PEPNode.avatarData)'><item id='\(id)'/></items>"))
        #expect(Base64.decode(data.child("pubsub")?.child("items")?.child("item")?.child("data")?.text ?? "") == Self.image)

        // A new session's presence gets the hash from the server (the vCard was read at binding).
        let tablet = try await scenario.login("alice", "tablet")
        _ = tablet
        let presence = bob.received("presence").last { $0.attribute("from") == "alice@example.com/tablet" }
        #expect(presence?.child("x", namespace: "vcard-temp:x:update")?.child("photo")?.text == id)
        // A client's own <photo/> (here empty: "not ready") is left alone.
        try await alice.send("<presence xmlns='jabber:client'><x xmlns='vcard-temp:x:update'><photo/></x></presence>")
        let untouched = bob.received("presence").last { $0.attribute("from") == "alice@example.com/phone" }
        #expect(untouched?.child("x", namespace: "vcard-temp:x:update")?.child("photo")?.text == "")

        // A vCard written without a photo (a client editing the name) leaves the PEP avatar alone.
        _ = try await S.ask(alice, "v2", "set", "<vCard xmlns='vcard-temp'><FN>Alice A.</FN></vCard>")
        let kept = try await S.ask(bob, "m1", "get", to: "alice@example.com", S.pubsub("<items node='\(PEPNode.avatarMetadata)'/>"))
        let keptMetadata = kept.child("pubsub")?.child("items")?.child("item")?.child("metadata", namespace: AvatarInfo.metadataNamespace)
        #expect(keptMetadata.flatMap(AvatarInfo.init(metadata:))?.id == id)
    }

    @Test func aStoredVCardPhotoIsInThePresenceAfterARestartAndNoVCardMeansAnEmptyPhoto() async throws {
        let storage = ServerStorage.inMemory()
        let first = try S.make(storage: storage)
        for user in ["alice", "bob", "carol"] { try await first.account(user) }
        let alice = try await first.login("alice")
        let vCard = "<vCard xmlns='vcard-temp'><PHOTO><TYPE>image/png</TYPE><BINVAL>\(Base64.encode(Self.image))</BINVAL></PHOTO></vCard>"
        _ = try await S.ask(alice, "v1", "set", vCard)
        let bob = try await first.login("bob")
        try await PEPTests.befriend(bob, try await first.login("alice", "two"))
        try await PEPTests.befriend(bob, try await first.login("carol"))

        let second = try S.make(storage: storage)
        let watcher = try await second.login("bob", "watcher")
        _ = try await second.login("alice", "later")
        _ = try await second.login("carol", "later")
        let presences = watcher.received("presence")
        let alicePhoto = presences.last { $0.attribute("from") == "alice@example.com/later" }?.child("x", namespace: "vcard-temp:x:update")?.child("photo")
        #expect(alicePhoto?.text == AvatarInfo.hash(of: Self.image), "read from the stored vCard at login")
        let carolPhoto = presences.last { $0.attribute("from") == "carol@example.com/later" }?.child("x", namespace: "vcard-temp:x:update")?.child("photo")
        #expect(carolPhoto != nil && carolPhoto?.text == "", "no vCard: an empty photo, no avatar")
    }

    @Test func aPEPAvatarBecomesTheVCardPhoto() async throws {
        let scenario = try S.make()
        try await scenario.account("alice"); try await scenario.account("bob")
        let alice = try await scenario.login("alice")
        let bob = try await scenario.login("bob")
        let info = AvatarInfo(image: Self.image, type: "image/webp")
        _ = try await S.ask(alice, "p1", "set", S.pubsub("<publish node='\(PEPNode.avatarData)'><item id='\(info.id)'>\(AvatarInfo.data(Self.image).xmlString)</item></publish>"))
        _ = try await S.ask(alice, "p2", "set", S.pubsub("<publish node='\(PEPNode.avatarMetadata)'><item id='\(info.id)'>\(info.metadata.xmlString)</item></publish>"))
        let vCard = try await S.ask(bob, "v1", "get", to: "alice@example.com", "<vCard xmlns='vcard-temp'/>")
        let photo = try #require(vCard.child("vCard")?.child("PHOTO"))
        #expect(photo.child("TYPE")?.text == "image/webp" && Base64.decode(photo.child("BINVAL")?.text ?? "") == Self.image)

        // Metadata whose id does not match the data is not copied.
        let wrong = AvatarInfo(id: String(repeating: "0", count: 40), type: "image/png", bytes: 3)
        _ = try await S.ask(alice, "p3", "set", S.pubsub("<publish node='\(PEPNode.avatarMetadata)'><item id='\(wrong.id)'>\(wrong.metadata.xmlString)</item></publish>"))
        let still = try await S.ask(bob, "v2", "get", to: "alice@example.com", "<vCard xmlns='vcard-temp'/>")
        #expect(Base64.decode(still.child("vCard")?.child("PHOTO")?.child("BINVAL")?.text ?? "") == Self.image)
        // Empty metadata removes the photo.
        _ = try await S.ask(alice, "p4", "set", S.pubsub("<publish node='\(PEPNode.avatarMetadata)'><item id='none'>\(AvatarInfo.noAvatar.xmlString)</item></publish>"))
        let removed = try await S.ask(bob, "v3", "get", to: "alice@example.com", "<vCard xmlns='vcard-temp'/>")
        #expect(removed.child("vCard")?.child("PHOTO") == nil)
    }

    @Test func privateStorageKeepsOneDocumentPerNamespaceForItsOwnerOnly() async throws {
        let scenario = try S.make()
        try await scenario.account("alice"); try await scenario.account("bob")
        let (alice, bob) = (try await scenario.login("alice"), try await scenario.login("bob"))
        let stored = try await S.ask(alice, "s1", "set", "<query xmlns='jabber:iq:private'><prefs xmlns='urn:app:prefs'><theme>dark</theme></prefs></query>")
        #expect(stored.attribute("type") == "result")
        let read = try await S.ask(alice, "g1", "get", "<query xmlns='jabber:iq:private'><prefs xmlns='urn:app:prefs'/></query>")
        #expect(read.child("query")?.child("prefs")?.child("theme")?.text == "dark")
        let empty = try await S.ask(alice, "g2", "get", "<query xmlns='jabber:iq:private'><other xmlns='urn:other'/></query>")
        #expect(empty.child("query")?.child("other", namespace: "urn:other") != nil)
        let reserved = try await S.ask(alice, "s2", "set", "<query xmlns='jabber:iq:private'><x xmlns='jabber:client'/></query>")
        #expect(S.error(reserved)?.0 == .notAcceptable)
        let foreign = try await S.ask(bob, "g3", "get", to: "alice@example.com", "<query xmlns='jabber:iq:private'><prefs xmlns='urn:app:prefs'/></query>")
        #expect(S.error(foreign) != nil, "nobody reads another's private storage")
    }

    @Test func bookmarksAreTheSameInPrivateStorageAndInPEP() async throws {
        let scenario = try S.make()
        try await scenario.account("alice")
        let old = try await scenario.login("alice", "old")
        let modern = try await S.loginWithCaps(scenario, "alice", "modern", notify: [PEPNode.bookmarks])
        _ = (old.received(), modern.received())
        let legacy = Bookmark.legacyStorage([Bookmark(room: try JID("tea@conference.example.com"), name: "Tea", autojoin: true, nickname: "Al")])
        _ = try await S.ask(old, "s1", "set", "<query xmlns='jabber:iq:private'>\(legacy.xmlString)</query>")
        let items = try await S.ask(modern, "i1", "get", S.pubsub("<items node='\(PEPNode.bookmarks)'/>"))
        let item = try #require(items.child("pubsub")?.child("items")?.child("item"))
        #expect(Bookmark(conference: try #require(item.child("conference")), itemID: item.attribute("id") ?? "")?.name == "Tea")
        #expect(await S.event(modern, node: PEPNode.bookmarks) != nil, "the modern client hears of it")
        let form = try await S.ask(modern, "c1", "get", S.pubsub("<configure node='\(PEPNode.bookmarks)'/>", owner: true))
        #expect(form.child("pubsub")?.child("configure")?.child("x").flatMap(DataForm.init(element:))?.value(of: "pubsub#access_model") == "whitelist")

        let added = Bookmark(room: try JID("coffee@conference.example.com"), name: "Coffee")
        _ = try await S.ask(modern, "p1", "set", S.pubsub("<publish node='\(PEPNode.bookmarks)'><item id='\(added.room)'>\(added.conference.xmlString)</item></publish>"))
        _ = try await S.ask(modern, "r1", "set", S.pubsub("<retract node='\(PEPNode.bookmarks)'><item id='tea@conference.example.com'/></retract>"))
        let view = try await S.ask(old, "g1", "get", "<query xmlns='jabber:iq:private'><storage xmlns='storage:bookmarks'/></query>")
        let rooms = Bookmark.fromLegacyStorage(try #require(view.child("query")?.child("storage"))).map(\.room.description)
        #expect(rooms == ["coffee@conference.example.com"])
    }
}
