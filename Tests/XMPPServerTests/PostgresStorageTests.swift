import Foundation
import Logging
import Testing
import XMPPCore
@testable import XMPPServer
import XMPPServerKernel
import XMPPServerPostgres
import XMPPTestSupport

/// xmppd on PostgreSQL beyond the storage conformance suite: `xmppctl migrate` from SQLite keeps logins and data, and a
/// database that goes away under the server makes storage calls fail quickly (not hang), then work again once it is back.
@Suite struct PostgresStorageTests {
    @Test(.timeLimit(.minutes(3)))
    func migrateFromSQLiteKeepsLoginsAndData() async throws {
        let server = try await TestServer.start(storage: "sqlite")
        let kernel = server.server.kernel
        _ = try await server.server.administration.createAccount("alice", password: "wonderland")
        _ = try await server.server.administration.createAccount("bob", password: "builder")
        let bob = try JID("bob@localhost")
        _ = try await kernel.storage.rosters.setItem(RosterEntry(jid: bob, name: "Bob", groups: ["Friends"], subscription: .both), of: "alice")
        _ = try await kernel.storage.offline.store(Message(type: .chat, to: try JID("alice@localhost"), body: "while you were away").element,
                                                   for: "alice", limit: 10, byteLimit: 100_000)
        try await kernel.storage.userData.setValue(Array("<vCard xmlns='vcard-temp'><FN>Alice</FN></vCard>".utf8), for: "vcard", of: "alice")
        let entry = ArchivedStanza(id: "archived-1", timestamp: Date(timeIntervalSince1970: 1_700_000_000), with: bob,
                                   element: Message(type: .chat, to: bob, body: "archived").element)
        _ = try await kernel.storage.archives.append(entry, to: "alice")
        _ = try await server.server.administration.createRoom("hall@conference.localhost", title: "Hall", owner: "alice")
        let directory = server.directory
        // Stopped with its data kept (migrate refuses to copy from a running server).
        await server.server.shutdown()
        defer { try? FileManager.default.removeItem(atPath: directory) }

        let url = try await PostgresTestServer.shared().newDatabase()
        let config = "\(directory)/xmppd.conf"
        try "domain = localhost\ndata_dir = \(directory)\npostgresql_url = \(url)\n".write(toFile: config, atomically: true, encoding: .utf8)
        let migrated = try await runProcess([builtExecutable("xmppctl"), "migrate", "--from", "sqlite", "--to", "postgresql", "--config", config],
                                            timeout: 120)
        #expect(migrated.status == 0, "\(migrated.output)")
        #expect(migrated.output.contains("accounts 2") && migrated.output.contains("archived messages 1"), "\(migrated.output)")
        let again = try await runProcess([builtExecutable("xmppctl"), "migrate", "--config", config], timeout: 120)
        #expect(again.status != 0 && again.output.contains("holds accounts already"), "\(again.output)")

        let moved = try await TestServer.start(storage: "postgresql") { configuration in
            configuration.postgres = try! PostgresSettings(url: url)
        }
        defer { Task { await moved.stop() } }
        let administration = moved.server.administration
        #expect(await administration.authenticate(try JID("alice@localhost"), password: "wonderland", address: "127.0.0.1") == false,
                "not an administrator: refused either way")
        let storage = moved.server.kernel.storage
        #expect(try await storage.accounts.credentials(of: "alice", hash: .sha256).map {
            ServerNegotiationStateMachine.passwordMatches("wonderland", $0)
        } == true, "the SCRAM keys moved: the old password works")
        #expect(try await storage.rosters.roster(of: "alice").items.map(\.name) == ["Bob"])
        #expect(try await storage.offline.pending(for: "alice").count == 1)
        #expect(try await storage.userData.value("vcard", of: "alice").map { String(decoding: $0, as: UTF8.self) }?.contains("<FN>Alice</FN>") == true)
        #expect(try await storage.archives.query(ArchiveQuery(max: 10), in: "alice").items.map(\.id) == ["archived-1"])
        #expect(await administration.rooms().map(\.jid) == ["hall@conference.localhost"])
    }

    /// Each domain's tables are its own: similar domains get different schemas, and a schema never serves another domain.
    @Test func aSchemaBelongsToOneDomain() async throws {
        #expect(PostgresDatabase.schema(for: "chat.example.com") != PostgresDatabase.schema(for: "chat-example.com"))
        #expect(PostgresDatabase.schema(for: "Chat.Example.com") == PostgresDatabase.schema(for: "chat.example.com"))
        let long = String(repeating: "a", count: 200)
        #expect(PostgresDatabase.schema(for: long + ".one").utf8.count <= 63
                && PostgresDatabase.schema(for: long + ".one") != PostgresDatabase.schema(for: long + ".two"))
        let url = try await PostgresTestServer.shared().newDatabase()
        let settings = try PostgresSettings(url: url)
        let first = try PostgresDatabase(settings: settings, domain: "a.example", schema: "shared_schema", logger: Logger(label: "test"))
        try await first.prepare()
        first.shutdown()
        let second = try PostgresDatabase(settings: settings, domain: "b.example", schema: "shared_schema", logger: Logger(label: "test"))
        defer { second.shutdown() }
        await #expect { try await second.prepare() } throws: { "\($0)".contains("holds the data of a.example") }
    }

    /// postgresql_url: IPv6 hosts, percent-encoded credentials (decoded once), parameters; masked without its password.
    @Test func settingsFromAURL() throws {
        let settings = try PostgresSettings(url: "postgresql://us%40er:p%2541ss@[::1]:6543/chat?sslmode=require&pool=7")
        #expect(settings.host == "::1" && settings.port == 6543 && settings.username == "us@er" && settings.password == "p%41ss")
        #expect(settings.database == "chat" && settings.tlsMode == "require" && settings.maxConnections == 7)
        #expect(!PostgresSettings.masked("postgres://u:se#cret@host/db").contains("se#cret"))
        #expect(PostgresSettings.masked("postgres://u:secret@host/db") == "postgres://u:********@host/db")
        #expect(throws: PostgresStorageError.self) { try PostgresSettings(url: "postgres://host/db?sslmode=maybe") }
        #expect(throws: PostgresStorageError.self) { try PostgresSettings(url: "mysql://host/db") }
    }

    @Test(.timeLimit(.minutes(3)))
    func aDatabaseThatGoesAwayFailsCallsQuicklyAndComesBack() async throws {
        let cluster = try await PostgresTestServer.startPrivate()
        let url = try await cluster.newDatabase()
        let server = try await TestServer.start(storage: "postgresql") { configuration in
            configuration.postgres = try! PostgresSettings(url: url)
        }
        defer { Task { await server.stop(); try? await cluster.stop() } }
        let administration = server.server.administration
        _ = try await administration.createAccount("before", password: "pw")

        try await cluster.stop()
        let started = ContinuousClock.now
        await #expect(throws: Administration.Failure.self) { _ = try await administration.createAccount("during", password: "pw") }
        let waited = ContinuousClock.now - started
        #expect(waited < .seconds(30), "a storage call with the database down fails in bounded time, took \(waited)")
        #expect(await administration.authenticate(try JID("before@localhost"), password: "pw", address: "127.0.0.1") == false)

        try await cluster.restart()
        // The pool reconnects by itself: the next calls work, and nothing stored before is lost.
        var created = false
        for _ in 0..<60 where !created {
            created = (try? await administration.createAccount("after", password: "pw")) != nil
            if !created { try await Task.sleep(for: .milliseconds(500)) }
        }
        #expect(created, "storage works again once PostgreSQL is back")
        #expect(try await server.server.kernel.storage.accounts.usernames() == ["after", "before"])
    }
}
