import Foundation
import Logging
import Testing
@testable import XMPPServer

/// The upload service's bookkeeping and parsing, without a network: ranges, file names, tokens, quota, slot expiry.
@Suite struct HTTPUploadStoreTests {
    @Test func byteRanges() {
        #expect(ByteRange(header: nil, size: 100) == .whole)
        #expect(ByteRange(header: "bytes=0-9", size: 100) == .partial(lower: 0, upper: 9))
        #expect(ByteRange(header: "bytes=90-", size: 100) == .partial(lower: 90, upper: 99))
        #expect(ByteRange(header: "bytes=90-500", size: 100) == .partial(lower: 90, upper: 99))
        #expect(ByteRange(header: "bytes=-10", size: 100) == .partial(lower: 90, upper: 99))
        #expect(ByteRange(header: "bytes=-500", size: 100) == .partial(lower: 0, upper: 99))
        #expect(ByteRange(header: "bytes=100-", size: 100) == .unsatisfiable)
        #expect(ByteRange(header: "bytes=-0", size: 100) == .unsatisfiable)
        #expect(ByteRange(header: "bytes=5-2", size: 100) == .whole, "an invalid range is ignored")
        #expect(ByteRange(header: "bytes=0-1,5-6", size: 100) == .whole, "several ranges: the whole file")
        #expect(ByteRange(header: "items=0-1", size: 100) == .whole)
    }

    @Test func fileNamesAndTokens() {
        #expect(UploadFilename.sanitized("très cool.jpg") == "très cool.jpg")
        #expect(UploadFilename.sanitized("../../etc/passwd") == "___.._etc_passwd")
        // Combining marks after a letter: cutting must not leave a name that starts with a dot (".meta" is ours).
        let sneaky = "a" + String(repeating: "\u{301}", count: 300) + ".meta"
        #expect(!UploadFilename.sanitized(sneaky).hasPrefix("."))
        for name in [sneaky, "../x", ".htaccess", String(repeating: "é", count: 150) + ".png", "plain.txt"] {
            #expect(UploadFilename.sanitized(UploadFilename.sanitized(name)) == UploadFilename.sanitized(name), "idempotent: \(name)")
        }
        #expect(UploadFilename.sanitized(".htaccess") == "_htaccess")
        #expect(UploadFilename.sanitized("a\u{0}b\nc\\d") == "a_b_c_d")
        #expect(UploadFilename.sanitized("") == "file")
        #expect(UploadFilename.sanitized(String(repeating: "x", count: 300) + ".png").hasSuffix(".png"))
        #expect(UploadFilename.sanitized(String(repeating: "x", count: 300)).utf8.count == 200)
        #expect(UploadFilename.percentEncoded("très cool.jpg") == "tr%C3%A8s%20cool.jpg")
        let tokens = Set((0..<100).map { _ in UploadToken.make() })
        #expect(tokens.count == 100 && tokens.allSatisfy(UploadToken.isWellFormed))
        #expect(!UploadToken.isWellFormed("../" + String(repeating: "0", count: 61)))
    }

    @Test func quotaSlotsAndExpiry() throws {
        let directory = NSTemporaryDirectory() + "upload-store-" + UUID().uuidString
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = UploadStore(limits: UploadLimits(maxFileBytes: 1000, quotaBytes: 2500, maxPendingSlots: 3, slotSeconds: 60,
                                                     expirySeconds: 3600, bytesPerSecond: 1 << 20))
        #expect(throws: UploadStore.Refusal.unavailable) { try store.requestSlot(owner: "a@x", filename: "f", size: 1) }
        try store.attach(directory: directory, baseURL: "https://x:5281/", logger: Logger(label: "test"))
        let start = Date()
        #expect(throws: UploadStore.Refusal.tooLarge(max: 1000)) { try store.requestSlot(owner: "a@x", filename: "f", size: 1001) }
        let first = try store.requestSlot(owner: "a@x", filename: "one.txt", size: 1000, contentType: nil, now: start)
        #expect(first.hasPrefix("https://x:5281/upload/") && first.hasSuffix("/one.txt"))
        _ = try store.requestSlot(owner: "a@x", filename: "two.txt", size: 1000, contentType: nil, now: start)
        #expect(throws: UploadStore.Refusal.quota) { try store.requestSlot(owner: "a@x", filename: "3", size: 1000, now: start) }
        _ = try store.requestSlot(owner: "a@x", filename: "three.txt", size: 400, contentType: nil, now: start)
        #expect(throws: UploadStore.Refusal.tooManySlots) { try store.requestSlot(owner: "a@x", filename: "4", size: 1, now: start) }
        #expect(store.usage(of: "a@x") == 2400)
        // The web listener restarting (the store attached again) keeps the open slots' bytes.
        try store.attach(directory: directory, baseURL: "https://x:5281/", logger: Logger(label: "test"))
        #expect(store.usage(of: "a@x") == 2400)
        #expect(try store.requestSlot(owner: "b@x", filename: "b", size: 1000, contentType: nil, now: start).contains("/upload/"),
                "another account has its own quota")

        // One slot is used (stored), the others expire unused: only the stored file still counts.
        let token = String(first.split(separator: "/")[3])
        #expect(store.claim(token: token, name: "other.txt", now: start) == nil, "the slot's own name only")
        #expect(store.claim(token: token, name: "one.txt", now: start) != nil)
        #expect(store.claim(token: token, name: "one.txt", now: start) == nil, "one PUT per slot")
        store.finish(token: token, stored: true, now: start)
        store.removeExpired(now: start.addingTimeInterval(61))
        #expect(store.usage(of: "a@x") == 1000)
        #expect(try store.requestSlot(owner: "a@x", filename: "again", size: 1000, contentType: nil, now: start.addingTimeInterval(61))
                    .contains("/upload/"))
        // The stored file expires after an hour and gives its bytes back.
        store.removeExpired(now: start.addingTimeInterval(3700))
        #expect(store.usage(of: "a@x") == 0)
    }
}
