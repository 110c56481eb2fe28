import Foundation
import Testing
import XMPPClient
import XMPPCore
import XMPPServer
import XMPPTestSupport

/// Two XMPPClients send each other files through xmppd: by stream initiation (XEP-0096) and by Jingle (XEP-0234),
/// over the server's SOCKS5 proxy (XEP-0065/0260) and in-band (XEP-0047/0261).
@Suite("File transfer between clients")
struct FileTransferTests {
    /// A connected client with the module, allowed `methods`.
    static func client(_ user: String, on server: TestServer, methods: [BytestreamMethod]) async throws -> (XMPPClient, FileTransferModule) {
        var configuration = try ClientFixture(server: server).configuration(user, resource: "desk")
        configuration.requestTimeout = .seconds(20)
        let client = XMPPClient(configuration: configuration)
        var options = FileTransferModule.Options()
        options.methods = methods
        options.acceptTimeout = .seconds(30)
        let files = client.add(FileTransferModule(options: options))
        try await client.connect(registering: true)
        return (client, files)
    }

    static func randomFile(bytes: Int, in directory: String) throws -> URL {
        let url = URL(fileURLWithPath: "\(directory)/source-\(UUID().uuidString).bin")
        try Data((0..<bytes).map { _ in UInt8.random(in: 0...255) }).write(to: url)
        return url
    }

    struct Case: Sendable, CustomTestStringConvertible {
        let transferProtocol: FileTransferProtocol
        let methods: [BytestreamMethod]
        /// The receiver's, when they differ (a receiver that does not connect to senders directly).
        var receiverMethods: [BytestreamMethod]? = nil
        let expected: BytestreamMethod
        var testDescription: String {
            "\(transferProtocol.rawValue) with \(methods.map(\.rawValue))" + (receiverMethods.map { ", receiving with \($0.map(\.rawValue))" } ?? "")
        }
    }

    @Test("a file arrives whole, by the first method both allow", arguments: [
        Case(transferProtocol: .streamInitiation, methods: [.direct, .socks5, .inBand], expected: .direct),
        Case(transferProtocol: .streamInitiation, methods: [.direct, .socks5, .inBand], receiverMethods: [.socks5, .inBand], expected: .socks5),
        Case(transferProtocol: .streamInitiation, methods: [.socks5, .inBand], expected: .socks5),
        Case(transferProtocol: .streamInitiation, methods: [.inBand], expected: .inBand),
        Case(transferProtocol: .jingle, methods: [.direct, .socks5, .inBand], expected: .direct),
        Case(transferProtocol: .jingle, methods: [.direct, .socks5, .inBand], receiverMethods: [.socks5, .inBand], expected: .socks5),
        Case(transferProtocol: .jingle, methods: [.socks5, .inBand], expected: .socks5),
        Case(transferProtocol: .jingle, methods: [.inBand], expected: .inBand),
    ])
    func transfer(_ test: Case) async throws {
        let server = try await TestServer.start(storage: "memory")
        defer { Task { await server.stop() } }
        let directory = NSTemporaryDirectory() + "ft-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (alice, aliceFiles) = try await Self.client("alice", on: server, methods: test.methods)
        let (bob, bobFiles) = try await Self.client("bob", on: server, methods: test.receiverMethods ?? test.methods)
        let size = 300_000
        let source = try Self.randomFile(bytes: size, in: directory)
        let destination = URL(fileURLWithPath: "\(directory)/received.bin")
        let receiving = Task {
            for await offer in bobFiles.offers {
                #expect(offer.file.name == source.lastPathComponent && offer.file.size == Int64(size) && offer.file.sha256 != nil)
                #expect(offer.transferProtocol == test.transferProtocol && offer.from == alice.jid)
                let transfer = bobFiles.accept(offer, saveTo: destination)
                var last: Int64 = 0
                for await step in transfer.progress { last = step.completed }
                let saved = try await transfer.value
                return (saved, last)
            }
            throw FileTransferError.cancelledByPeer
        }
        let method = try await aliceFiles.send(file: source, to: try #require(bob.jid), using: test.transferProtocol).value
        #expect(method == test.expected)
        let (saved, last) = try await receiving.value
        #expect(saved == destination && last == Int64(size))
        #expect(try Data(contentsOf: destination) == Data(contentsOf: source))
        await alice.disconnect()
        await bob.disconnect()
    }

    @Test("an accepted offer whose bytes never come fails after the idle time and leaves no file", .timeLimit(.minutes(1)))
    func aSenderThatNeverSends() async throws {
        let server = try await TestServer.start(storage: "memory")
        defer { Task { await server.stop() } }
        let directory = NSTemporaryDirectory() + "ft-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (mallory, _) = try await Self.client("mallory", on: server, methods: [.inBand])
        var configuration = try ClientFixture(server: server).configuration("bob", resource: "desk")
        configuration.requestTimeout = .seconds(2)
        let bob = XMPPClient(configuration: configuration)
        let files = bob.add(FileTransferModule())
        try await bob.connect(registering: true)
        let offers = files.offers
        // An SI offer by hand; mallory takes the answer and then sends nothing.
        try await mallory.send(try Element(xml: """
            <iq xmlns='jabber:client' type='set' id='offer1' to='\(try #require(bob.jid))'>\
            <si xmlns='http://jabber.org/protocol/si' id='never' profile='http://jabber.org/protocol/si/profile/file-transfer'>\
            <file xmlns='http://jabber.org/protocol/si/profile/file-transfer' name='x.bin' size='1000'/>\
            <feature xmlns='http://jabber.org/protocol/feature-neg'><x xmlns='jabber:x:data' type='form'>\
            <field var='stream-method' type='list-single'><option><value>http://jabber.org/protocol/ibb</value></option></field>\
            </x></feature></si></iq>
            """))
        let offer = try #require(await first(offers) { _ in true })
        let destination = URL(fileURLWithPath: "\(directory)/x.bin")
        let started = ContinuousClock.now
        await #expect(throws: FileTransferError.self) { _ = try await files.accept(offer, saveTo: destination).value }
        #expect(ContinuousClock.now - started < .seconds(40), "the idle limit (2 s), not the accept timeout")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory).isEmpty, "no file, no temporary file")
        await mallory.disconnect()
        await bob.disconnect()
    }

    @Test("a declined offer fails the sender's transfer, by either protocol", arguments: FileTransferProtocol.allCases)
    func declined(_ transferProtocol: FileTransferProtocol) async throws {
        let server = try await TestServer.start(storage: "memory")
        defer { Task { await server.stop() } }
        let directory = NSTemporaryDirectory() + "ft-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let (alice, aliceFiles) = try await Self.client("alice", on: server, methods: [.socks5, .inBand])
        let (bob, bobFiles) = try await Self.client("bob", on: server, methods: [.socks5, .inBand])
        Task {
            for await offer in bobFiles.offers { await bobFiles.decline(offer) }
        }
        let source = try Self.randomFile(bytes: 1000, in: directory)
        await #expect(throws: FileTransferError.self) {
            _ = try await aliceFiles.send(file: source, to: try #require(bob.jid), using: transferProtocol).value
        }
        await alice.disconnect()
        await bob.disconnect()
    }
}
