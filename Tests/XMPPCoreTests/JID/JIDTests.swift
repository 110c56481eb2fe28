import Testing
@testable import XMPPCore

@Suite struct JIDTests {
    // RFC 7622 §3.5, examples of valid JIDs (with their normalized forms where they change).
    @Test(arguments: [
        ("juliet@example.com", "juliet@example.com"),
        ("juliet@example.com/foo", "juliet@example.com/foo"),
        ("juliet@example.com/foo bar", "juliet@example.com/foo bar"),
        ("juliet@example.com/foo@bar", "juliet@example.com/foo@bar"),
        ("foo\\20bar@example.com", "foo\\20bar@example.com"),
        ("fussball@example.com", "fussball@example.com"),
        ("fu\u{DF}ball@example.com", "fu\u{DF}ball@example.com"),
        ("\u{3C0}@example.com", "\u{3C0}@example.com"),
        ("\u{3A3}@example.com/foo", "\u{3C3}@example.com/foo"),
        ("\u{3C3}@example.com/foo", "\u{3C3}@example.com/foo"),
        ("\u{3C2}@example.com/foo", "\u{3C2}@example.com/foo"),
        ("king@example.com/\u{265A}", "king@example.com/\u{265A}"),
        ("example.com", "example.com"),
        ("example.com/foobar", "example.com/foobar"),
        ("a.example.com/b@example.net", "a.example.com/b@example.net"),
        // Case and width mapping, NFC, trailing dot.
        ("Juliet@EXAMPLE.com/Balcony", "juliet@example.com/Balcony"),
        ("\u{FF2A}uliet@example.com", "juliet@example.com"),
        ("e\u{301}t\u{E9}@example.com", "\u{E9}t\u{E9}@example.com"),
        ("juliet@example.com./r", "juliet@example.com/r"),
        ("juliet@B\u{DC}CHER.example", "juliet@b\u{FC}cher.example"),
        ("juliet@[::1]/x", "juliet@[::1]/x"),
        ("juliet@192.0.2.1", "juliet@192.0.2.1"),
        ("juliet@example.com/res\u{2003}ource", "juliet@example.com/res ource"),
    ])
    func validJIDsNormalize(_ input: String, _ normalized: String) throws {
        let jid = try JID(input)
        #expect(jid.description == normalized)
        #expect(try JID(jid.description) == jid, "normalization is idempotent")
    }

    // RFC 7622 §3.5, examples of invalid JIDs, and more.
    @Test(arguments: [
        "\"juliet\"@example.com",
        "foo bar@example.com",
        "@example.com/",
        "henry\u{2163}@example.com",
        "\u{265A}@example.com",
        "juliet@",
        "/foobar",
        "juliet@example.com/",
        "juliet@exa mple.com",
        "juliet@-example.com",
        "juliet@example..com",
        "a:b@example.com",
        "a\u{0}b@example.com",
        "juliet@example.com/\u{7}",
        "juliet@example.com/\u{200B}x",
        "",
    ])
    func invalidJIDsAreRejected(_ input: String) {
        #expect(throws: JIDError.self, "\(input)") { try JID(input) }
    }

    @Test func lengthLimits() throws {
        let long = String(repeating: "a", count: 1023)
        #expect(try JID(long + "@example.com").localpart?.utf8.count == 1023)
        #expect(throws: JIDError.tooLong(.localpart)) { try JID(long + "a@example.com") }
        #expect(throws: JIDError.tooLong(.resourcepart)) { try JID("a@example.com/" + long + "a") }
        #expect(throws: JIDError.invalidDomain("label longer than 63 bytes")) {
            try JID("a@" + String(repeating: "b", count: 64) + ".com")
        }
    }

    @Test func partsBareAndEquality() throws {
        let full = try JID("Romeo@Montague.LIT/Orchard")
        #expect(full.localpart == "romeo")
        #expect(full.domainpart == "montague.lit")
        #expect(full.resourcepart == "Orchard")
        #expect(full.isFull)
        #expect(full.bare == (try JID("romeo@montague.lit")))
        #expect(full.bare.isBare)
        #expect(full.domain.isDomain)
        #expect(full != (try JID("romeo@montague.lit/orchard")), "resourceparts are case-sensitive")
        #expect(try full.bare.withResource("Orchard") == full)
        let set: Set<JID> = [try JID("A@B"), try JID("a@b"), try JID("a@b.")]
        #expect(set.count == 1)
        #expect(JID(validating: "@") == nil)
    }
}
