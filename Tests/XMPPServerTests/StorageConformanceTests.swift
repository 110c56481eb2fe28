import Foundation
import Testing
import XMPPCore
import XMPPServerKernel
@testable import XMPPServerSQLite
import XMPPServerMUC
import GRDB
import Logging
import XMPPServerPostgres
import XMPPTestSupport

/// One behaviour for every storage backend: the same checks run on the in-memory stores, on SQLite and on PostgreSQL
/// (a private cluster on loopback, each run in a schema of its own).
@Suite struct StorageConformanceTests {
    static func backends() async throws -> [(String, ServerStorage)] {
        let path = NSTemporaryDirectory() + "xmppd-storage-" + UUID().uuidString + ".sqlite"
        return [("memory", .inMemory()), ("sqlite", try SQLiteDatabase(path: path).storage), ("postgresql", try await postgres().storage)]
    }

    /// A fresh schema in the tests' PostgreSQL cluster, migrated.
    static func postgres() async throws -> PostgresDatabase {
        let server = try await PostgresTestServer.shared()
        let database = try PostgresDatabase(settings: try PostgresSettings(url: server.url), domain: "example.com",
                                            schema: "test_" + UUID().uuidString.prefix(8).lowercased().replacingOccurrences(of: "-", with: ""),
                                            logger: Logger(label: "test.postgres"))
        try await database.prepare()
        return database
    }

    @Test func accounts() async throws {
        for (name, storage) in try await Self.backends() {
            let credentials = SCRAMCredentials.allHashes(password: "pw", iterations: 10)
            #expect(try await storage.accounts.createAccount("alice", credentials: credentials), "\(name)")
            #expect(try await !storage.accounts.createAccount("alice", credentials: credentials), "\(name): taken")
            #expect(try await storage.accounts.credentials(of: "alice", hash: .sha256) == credentials.first { $0.hash == .sha256 }, "\(name)")
            #expect(try await storage.accounts.credentials(of: "nobody", hash: .sha256) == nil, "\(name)")
            let renewed = SCRAMCredentials.allHashes(password: "new", iterations: 10)
            #expect(try await storage.accounts.setCredentials(renewed, of: "alice"), "\(name)")
            #expect(try await storage.accounts.credentials(of: "alice", hash: .sha1) == renewed.first { $0.hash == .sha1 }, "\(name)")
            #expect(try await !storage.accounts.setCredentials(renewed, of: "nobody"), "\(name)")
            #expect(try await storage.accounts.usernames() == ["alice"], "\(name)")
            #expect(try await storage.accounts.deleteAccount("alice"), "\(name)")
            #expect(try await !storage.accounts.accountExists("alice"), "\(name)")
        }
    }

    @Test func rostersKeepItemsAndCountVersions() async throws {
        for (name, storage) in try await Self.backends() {
            let bob = try JID("bob@example.com")
            var item = RosterEntry(jid: bob, name: "Bob", groups: ["Friends", "Work"], subscription: .to, pendingIn: true)
            #expect(try await storage.rosters.setItem(item, of: "alice") == 1, "\(name)")
            item.subscription = .both
            item.pendingRequest = SubscriptionRequestNote(status: "It's <Bob> & co", nick: "Bobby")
            #expect(try await storage.rosters.setItem(item, of: "alice") == 2, "\(name)")
            #expect(try await storage.rosters.item(bob, of: "alice") == item, "\(name)")
            #expect(try await storage.rosters.roster(of: "alice") == StoredRoster(items: [item], version: 2), "\(name)")
            #expect(try await storage.rosters.removeItem(bob, of: "alice") == 3, "\(name)")
            #expect(try await storage.rosters.roster(of: "alice").items.isEmpty, "\(name)")
            #expect(try await storage.rosters.roster(of: "carol") == StoredRoster(items: [], version: 0), "\(name)")
        }
    }

    /// Reads what waits and removes it, as a delivery that succeeded does.
    static func takeAll(_ store: any OfflineStore, for user: String) async throws -> [Element] {
        let pending = try await store.pending(for: user)
        try await store.remove(pending.map(\.id), for: user)
        return pending.map(\.element)
    }

    @Test func offlineMessagesKeepOrderAndLimits() async throws {
        for (name, storage) in try await Self.backends() {
            let offline = storage.offline
            let first = Message(type: .chat, to: try JID("bob@example.com"), body: "one & <two>").element
            let second = Message(type: .chat, to: try JID("bob@example.com"), body: "three").element
            #expect(try await offline.store(first, for: "bob", limit: 2, byteLimit: .max), "\(name)")
            #expect(try await offline.store(second, for: "bob", limit: 2, byteLimit: .max), "\(name)")
            #expect(try await !offline.store(second, for: "bob", limit: 2, byteLimit: .max), "\(name): full")
            #expect(try await offline.count(for: "bob") == 2, "\(name)")
            // Reading leaves them; removing by id removes exactly those.
            let pending = try await offline.pending(for: "bob")
            #expect(pending.map(\.element) == [first, second], "\(name)")
            #expect(try await offline.pending(for: "bob").count == 2, "\(name): reading removes nothing")
            try await offline.remove([pending[0].id], for: "bob")
            #expect(try await offline.pending(for: "bob").map(\.element) == [second], "\(name)")
            #expect(try await Self.takeAll(offline, for: "bob") == [second], "\(name)")
            #expect(try await offline.pending(for: "bob").isEmpty, "\(name)")
            // The byte quota counts the stored form.
            let size = first.xmlString.utf8.count
            #expect(try await offline.store(first, for: "carol", limit: 10, byteLimit: size), "\(name)")
            #expect(try await !offline.store(first, for: "carol", limit: 10, byteLimit: size * 2 - 1), "\(name): over the byte quota")
        }
    }

    /// What the server stored comes back whole, even when it serializes longer than the stream limit allowed it
    /// to arrive, and quotes in text are not blown up six times.
    @Test func longStoredMessagesComeBackWhole() async throws {
        for (name, storage) in try await Self.backends() {
            let body = String(repeating: "'\"", count: 120_000)
            let message = Message(type: .chat, to: try JID("bob@example.com"), body: body).element
            #expect(message.xmlString.utf8.count < 260_000, "\(name): quotes in text are written as they are")
            #expect(try await storage.offline.store(message, for: "bob", limit: 10, byteLimit: .max), "\(name)")
            #expect(try await Self.takeAll(storage.offline, for: "bob").first.flatMap { Message(element: $0)?.body } == body, "\(name)")
        }
    }

    /// The SQLite store answers "anything waiting?" from memory; what is stored must still be found after the
    /// database is opened again, and after another process (xmppctl) emptied it.
    @Test func offlineMessagesSurviveReopeningTheDatabase() async throws {
        let path = NSTemporaryDirectory() + "xmppd-offline-" + UUID().uuidString + ".sqlite"
        defer { try? FileManager.default.removeItem(atPath: path) }
        let message = Message(type: .chat, to: try JID("bob@example.com"), body: "kept").element
        #expect(try await SQLiteDatabase(path: path).storage.offline.store(message, for: "bob", limit: 10, byteLimit: .max))
        let reopened = try SQLiteDatabase(path: path).storage
        #expect(try await Self.takeAll(reopened.offline, for: "bob") == [message])
        #expect(try await Self.takeAll(reopened.offline, for: "bob").isEmpty)
        #expect(try await reopened.offline.store(message, for: "bob", limit: 10, byteLimit: .max))
        try await SQLiteDatabase(path: path).storage.offline.removeAll(for: "bob")
        #expect(try await Self.takeAll(reopened.offline, for: "bob").isEmpty)
        #expect(try await reopened.offline.store(message, for: "bob", limit: 10, byteLimit: .max))
        #expect(try await Self.takeAll(reopened.offline, for: "bob") == [message])
    }

    @Test func userDataIsPerUserAndKey() async throws {
        for (name, storage) in try await Self.backends() {
            try await storage.userData.setValue([1, 2, 3], for: "vcard", of: "alice")
            try await storage.userData.setValue([9], for: "vcard", of: "bob")
            try await storage.userData.setValue([7], for: "last", of: "carol")
            #expect(try await storage.userData.value("vcard", of: "alice") == [1, 2, 3], "\(name)")
            #expect(try await storage.userData.users(withKey: "vcard") == ["alice", "bob"], "\(name)")
            try await storage.userData.setValue(nil, for: "vcard", of: "alice")
            #expect(try await storage.userData.value("vcard", of: "alice") == nil, "\(name)")
            try await storage.userData.removeAll(of: "bob")
            #expect(try await storage.userData.value("vcard", of: "bob") == nil, "\(name)")
        }
    }

    @Test func serviceRecordsAreKeptPerServiceAndReplaced() async throws {
        for (name, storage) in try await Self.backends() {
            let records = storage.serviceRecords
            try await records.save([1, 2, 3], id: "b", of: "conference.example.com")
            try await records.save([4], id: "a", of: "conference.example.com")
            try await records.save([9], id: "a", of: "pubsub.example.com")
            #expect(try await records.records(of: "conference.example.com").map(\.id) == ["a", "b"], "\(name): ordered by id")
            try await records.save([5, 6], id: "b", of: "conference.example.com")
            #expect(try await records.records(of: "conference.example.com").last?.data == [5, 6], "\(name): replaced")
            try await records.delete(id: "b", of: "conference.example.com")
            try await records.delete(id: "missing", of: "conference.example.com")
            #expect(try await records.records(of: "conference.example.com").map(\.data) == [[4]], "\(name)")
            #expect(try await records.records(of: "pubsub.example.com").map(\.data) == [[9]], "\(name): services apart")
        }
    }

    @Test func chatRoomsRoundTripThroughServiceRecords() async throws {
        for (name, storage) in try await Self.backends() {
            var configuration = RoomConfiguration()
            configuration.isPersistent = true
            configuration.name = "Tea"
            let room = StoredRoom(jid: "tea@conference.example.com", configuration: configuration,
                                  affiliations: ["alice@example.com": .owner, "eve@example.com": .outcast],
                                  subject: .init(text: "Oolong", nickname: "alice"))
            let rooms = RoomStore(records: storage.serviceRecords, domain: "conference.example.com")
            try await rooms.save(room)
            #expect(try await rooms.rooms() == [room], "\(name)")
            try await rooms.delete(room: room.jid)
            #expect(try await rooms.rooms().isEmpty, "\(name)")
        }
    }

    @Test func archivesFilterByPartyAndTimeAndPageBothWays() async throws {
        for (name, storage) in try await Self.backends() {
            let archives = storage.archives
            let bob = try JID("bob@example.com/phone"), carol = try JID("carol@example.com")
            for index in 0..<10 {
                let with = index.isMultiple(of: 2) ? bob : carol
                let entry = ArchivedStanza(id: "m\(index)", timestamp: Date(timeIntervalSince1970: Double(1000 + index)), with: with,
                                           element: Message(type: .chat, to: with, body: "text \(index) & <more>").element)
                #expect(try await archives.append(entry, to: "alice"), "\(name)")
            }
            let duplicate = ArchivedStanza(id: "m0", timestamp: Date(), with: bob, element: Message(type: .chat, body: "again").element)
            #expect(try await !archives.append(duplicate, to: "alice"), "\(name): ids are unique per archive")
            try await archives.append(duplicate, to: "zoe")

            let first = try await archives.query(ArchiveQuery(max: 4), in: "alice")
            #expect(first.items.map(\.id) == ["m0", "m1", "m2", "m3"] && !first.isComplete && first.count == 10, "\(name)")
            #expect(first.items.first?.element == Message(type: .chat, to: bob, body: "text 0 & <more>").element, "\(name): stanza kept")
            #expect(first.items.first?.with == bob && first.items.first?.timestamp == Date(timeIntervalSince1970: 1000), "\(name)")
            let next = try await archives.query(ArchiveQuery(after: "m7", max: 4), in: "alice")
            #expect(next.items.map(\.id) == ["m8", "m9"] && next.isComplete, "\(name): forward to the end")
            let last = try await archives.query(ArchiveQuery(before: "", max: 3), in: "alice")
            #expect(last.items.map(\.id) == ["m7", "m8", "m9"] && !last.isComplete, "\(name): the last page, oldest first")
            let earlier = try await archives.query(ArchiveQuery(before: "m2", max: 5), in: "alice")
            #expect(earlier.items.map(\.id) == ["m0", "m1"] && earlier.isComplete, "\(name): backward to the start")

            let withBob = try await archives.query(ArchiveQuery(with: bob.bare, max: 10), in: "alice")
            #expect(withBob.items.map(\.id) == ["m0", "m2", "m4", "m6", "m8"] && withBob.count == 5, "\(name): a bare JID matches its resources")
            let fullOnly = try await archives.query(ArchiveQuery(with: try JID("bob@example.com/laptop"), max: 10), in: "alice")
            #expect(fullOnly.items.isEmpty, "\(name): a full JID matches only itself")
            let window = try await archives.query(ArchiveQuery(start: Date(timeIntervalSince1970: 1003), end: Date(timeIntervalSince1970: 1005), max: 10), in: "alice")
            #expect(window.items.map(\.id) == ["m3", "m4", "m5"], "\(name): start and end are inclusive")
            await #expect(throws: ArchiveQueryError.unknownID("nope"), "\(name)") {
                try await archives.query(ArchiveQuery(after: "nope", max: 5), in: "alice")
            }
            let byIDs = try await archives.query(ArchiveQuery(max: 10, ids: ["m6", "m1", "absent"]), in: "alice")
            #expect(byIDs.items.map(\.id) == ["m1", "m6"] && byIDs.count == 2, "\(name): by ids, in archive order")

            // A batch: one transaction, duplicates skipped, each entry to its own archive.
            let batch = [("alice", ArchivedStanza(id: "b1", timestamp: Date(timeIntervalSince1970: 2000), with: bob, element: duplicate.element)),
                         ("zoe", ArchivedStanza(id: "b2", timestamp: Date(timeIntervalSince1970: 2000), with: bob, element: duplicate.element)),
                         ("alice", ArchivedStanza(id: "m9", timestamp: Date(timeIntervalSince1970: 2000), with: bob, element: duplicate.element))]
            try await archives.append(batch.map { (archive: $0.0, entry: $0.1) })
            #expect(try await archives.query(ArchiveQuery(before: "", max: 2), in: "alice").items.map(\.id) == ["m9", "b1"], "\(name)")
            #expect(try await archives.query(ArchiveQuery(after: "m9", max: 10), in: "alice").items.first?.element == duplicate.element,
                    "\(name): the duplicate id kept the first entry")
            #expect(try await archives.query(ArchiveQuery(max: 0), in: "alice").count == 11, "\(name): sizes count new entries only")
            #expect(try await archives.query(ArchiveQuery(with: bob.bare, max: 0), in: "alice").count == 6, "\(name)")

            #expect(try await archives.removeEntries(olderThan: Date(timeIntervalSince1970: 1005), in: "alice") == 5, "\(name)")
            #expect(try await archives.query(ArchiveQuery(max: 10), in: "alice").items.first?.id == "m5", "\(name)")
            try await archives.removeArchive("alice")
            #expect(try await archives.query(ArchiveQuery(max: 10), in: "alice").count == 0, "\(name)")
            #expect(try await archives.query(ArchiveQuery(max: 10), in: "zoe").count == 2, "\(name): archives apart")
        }
    }

    /// Rooms stored by a server before the per-service records (schema v2) are still there after the upgrade.
    @Test func roomsOfSchemaTwoMoveToServiceRecords() async throws {
        let path = NSTemporaryDirectory() + "xmppd-v2-" + UUID().uuidString + ".sqlite"
        do {
            let pool = try DatabasePool(path: path)
            try SQLiteDatabase.migrator.migrate(pool, upTo: "v2: persistent chat rooms")
            let old = StoredRoom(jid: "tea@conference.example.com", configuration: RoomConfiguration(),
                                 affiliations: ["alice@example.com": .owner], subject: nil)
            let record = String(decoding: try JSONEncoder().encode(old), as: UTF8.self)
            try await pool.write { db in
                try db.execute(sql: "INSERT INTO muc_room (jid, domain, record) VALUES (?, ?, ?)",
                               arguments: ["tea@conference.example.com", "conference.example.com", record])
            }
        }
        let upgraded = try SQLiteDatabase(path: path)
        let rooms = try await RoomStore(records: upgraded.storage.serviceRecords, domain: "conference.example.com").rooms()
        #expect(rooms.map(\.jid) == ["tea@conference.example.com"])
        #expect(rooms.first?.affiliations["alice@example.com"] == .owner)
    }
}
