import Testing
import XMPPCore

/// Bookmarks and avatar metadata read what they write, read the XEPs' examples, and convert between the old and new forms.
@Suite struct PubSubPayloadTests {
    @Test func aXEP0402BookmarkReadsTheSpecExampleAndWritesItBack() throws {
        // XEP-0402 §3.3, Example 3.
        let conference = try Element(xml: """
            <conference xmlns='urn:xmpp:bookmarks:1' name='The Play&apos;s the Thing' autojoin='true'><nick>JC</nick></conference>
            """)
        let bookmark = try #require(Bookmark(conference: conference, itemID: "theplay@conference.shakespeare.lit"))
        #expect(bookmark == Bookmark(room: try JID("theplay@conference.shakespeare.lit"), name: "The Play's the Thing",
                                     autojoin: true, nickname: "JC"))
        #expect(Bookmark(conference: bookmark.conference, itemID: bookmark.room.description) == bookmark)
        #expect(Bookmark(conference: conference, itemID: "not a jid@@") == nil, "the item id must be a room's bare JID")
        #expect(Bookmark(conference: conference, itemID: "room@conference.example/nick") == nil)
    }

    @Test func xep0048StorageConvertsBothWaysAndLeavesURLsOut() throws {
        // XEP-0048 §3.2, with a URL bookmark beside the room.
        let storage = try Element(xml: """
            <storage xmlns='storage:bookmarks'><conference name='Council of Oberon' autojoin='1' jid='council@conference.underhill.lit'>\
            <nick>Puck</nick><password>titania</password></conference><url name='Complete Works' url='http://the-tech.mit.edu/Shakespeare/'/></storage>
            """)
        let bookmarks = Bookmark.fromLegacyStorage(storage)
        #expect(bookmarks == [Bookmark(room: try JID("council@conference.underhill.lit"), name: "Council of Oberon", autojoin: true,
                                       nickname: "Puck", password: "titania")])
        #expect(Bookmark.fromLegacyStorage(Bookmark.legacyStorage(bookmarks)) == bookmarks)
        #expect(Bookmark.legacyStorage(bookmarks).children("conference").first?.namespace == Bookmark.legacyNamespace)
    }

    @Test func avatarMetadataRoundTripsAndItsIdIsTheSHA1OfTheImage() throws {
        let image: [UInt8] = Array("not really a png".utf8)
        let info = AvatarInfo(image: image, type: "image/png", width: 64, height: 64)
        #expect(info.id.count == 40)
        #expect(info.id == AvatarInfo.hash(of: image) && info.bytes == image.count)
        #expect(AvatarInfo(metadata: info.metadata) == info)
        #expect(AvatarInfo(metadata: AvatarInfo.noAvatar) == nil, "an empty metadata means no avatar")
        #expect(AvatarInfo.hash(of: Array("abc".utf8)) == "a9993e364706816aba3e25717850c26c9cd0d89d", "FIPS 180 vector")
        #expect(Base64.decode(AvatarInfo.data(image).text) == image)
    }
}
