import Testing
import XMPPCore

/// `String(validUTF8:)` stands in for `String(validating:as:)` below macOS 15: it must refuse exactly what is not UTF-8.
struct ValidUTF8Tests {
    @Test(arguments: [
        [0xC3, 0x28],              // a lead byte followed by ASCII
        [0xC0, 0x80],              // overlong NUL
        [0xED, 0xA0, 0x80],        // a UTF-16 surrogate
        [0xF4, 0x90, 0x80, 0x80],  // beyond U+10FFFF
        [0xE2, 0x82],              // truncated at the end
        [0x80],                    // a lone continuation byte
        [0xFF],
    ] as [[UInt8]])
    func refusesInvalid(_ bytes: [UInt8]) {
        #expect(String(validUTF8: bytes) == nil)
        #expect(String(validUTF8: [0x61] + bytes + [0x62]) == nil)
    }

    @Test func acceptsValid() {
        for text in ["", "juliet", "p\u{E4}ss", "\u{20AC}", "\u{1F600} ok", "\u{10FFFF}"] {
            #expect(String(validUTF8: Array(text.utf8)) == text)
            #expect(String(validUTF8: Array(text.utf8)[...]) == text)
        }
    }
}
