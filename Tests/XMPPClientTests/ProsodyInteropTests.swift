import Foundation
import Testing
import XMPPClient
import XMPPCore
import XMPPTestSupport

/// The library against a server we did not write: Prosody from Debian (installed by .ci/run).
@Suite("XMPPClient against Prosody", .serialized)
struct ProsodyInteropTests {
    @Test("register, log in, subscribe both ways, chat with a receipt, vCard, ping, disco, change password")
    func fullFlow() async throws {
        try await ProsodyServer.with { prosody in
            let fixture = ClientFixture(host: "127.0.0.1", port: prosody.port, domain: "localhost", trust: .caFile(prosody.certificatePath))
            let (alice, bob) = (try fixture.client("alice"), try fixture.client("bob"))
            let (aliceRoster, bobRoster) = (alice.add(RosterModule()), bob.add(RosterModule()))
            let (aliceChat, bobChat) = (alice.add(ChatModule()), bob.add(ChatModule()))
            let alicePresence = alice.add(PresenceModule())
            let registration = alice.add(RegistrationModule())
            let vcards = alice.add(VCardModule())
            let ping = alice.add(PingModule(interval: nil))
            let disco = alice.add(DiscoModule())
            try await registration.register()
            try await bob.connect(registering: true)
            #expect(alice.connectionState.isOnline && bob.connectionState.isOnline)
            #expect(alice.authenticationMechanism?.scramHash != nil)

            // Subscriptions both ways.
            let requestsToBob = bobRoster.subscriptionRequests
            try await aliceRoster.subscribe(to: try fixture.jid("bob"))
            #expect(await first(requestsToBob) { _ in true }?.from == (try fixture.jid("alice")))
            let requestsToAlice = aliceRoster.subscriptionRequests
            try await bobRoster.approve(try fixture.jid("alice"))
            try await bobRoster.subscribe(to: try fixture.jid("alice"))
            #expect(await first(requestsToAlice) { _ in true } != nil)
            try await aliceRoster.approve(try fixture.jid("bob"))
            let bobJID = try fixture.jid("bob")
            #expect(await eventually { aliceRoster.item(for: bobJID)?.subscription == .both })
            #expect(await eventually { alicePresence.isAvailable(bobJID) })

            // Chat with a receipt.
            let incoming = aliceChat.messages
            let receipts = bobChat.receipts
            let id = try await bobChat.send("Hello from Bob", to: try fixture.jid("alice"))
            #expect(await first(incoming) { _ in true }?.body == "Hello from Bob")
            #expect(await first(receipts) { $0.messageID == id } != nil)

            // vCard, ping, disco.
            var card = VCard()
            card.fullName = "Alice"
            try await vcards.publish(card)
            #expect(try await vcards.fetch().fullName == "Alice")
            #expect(try await ping.ping() < .seconds(5))
            #expect(try await disco.info(of: try JID("localhost")).features.contains("urn:xmpp:ping"))

            // Password change, then a fresh login with the new password.
            try await registration.changePassword(to: "changed-secret")
            await alice.disconnect()
            try await alice.connect()
            #expect(alice.connectionState.isOnline)
            await alice.disconnect()
            await bob.disconnect()
        }
    }

    @Test("files between two clients on Prosody, through its proxy65, by Jingle and by SI")
    func fileTransferThroughProsodysProxy() async throws {
        try await ProsodyServer.with { prosody in
            let fixture = ClientFixture(host: "127.0.0.1", port: prosody.port, domain: "localhost", trust: .caFile(prosody.certificatePath))
            let directory = NSTemporaryDirectory() + "ft-prosody-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: directory) }
            let (alice, bob) = (XMPPClient(configuration: try fixture.configuration("alice", resource: "desk")),
                                XMPPClient(configuration: try fixture.configuration("bob", resource: "desk")))
            // Through the proxy: the clients make no direct connection to each other.
            var options = FileTransferModule.Options()
            options.methods = [.socks5, .inBand]
            let (aliceFiles, bobFiles) = (alice.add(FileTransferModule(options: options)), bob.add(FileTransferModule(options: options)))
            _ = bob.add(DiscoModule())   // bob announces Jingle file transfer: alice's default is then Jingle
            try await alice.connect(registering: true)
            try await bob.connect(registering: true)
            let source = try FileTransferTests.randomFile(bytes: 250_000, in: directory)
            let offers = bobFiles.offers
            let receiving = Task {
                var saved: [Data] = []
                for await offer in offers {
                    let destination = URL(fileURLWithPath: "\(directory)/received-\(saved.count).bin")
                    _ = try await bobFiles.accept(offer, saveTo: destination).value
                    saved.append(try Data(contentsOf: destination))
                    if saved.count == 2 { break }
                }
                return saved
            }
            let bobJID = try #require(bob.jid)
            // Prosody's proxy answers its address (else the transfers below go in-band).
            let address = try await alice.query(Element("query", namespace: "http://jabber.org/protocol/bytestreams"), to: try JID("proxy.localhost"))
            #expect(address?.child("streamhost", namespace: "http://jabber.org/protocol/bytestreams") != nil, "\(String(describing: address))")
            let bySI = try await aliceFiles.send(file: source, to: bobJID, using: .streamInitiation).value
            #expect(bySI == .socks5, "stream initiation went \(bySI)")
            let byJingle = try await aliceFiles.send(file: source, to: bobJID).value
            #expect(byJingle == .socks5, "Jingle went \(byJingle)")
            let saved = try await receiving.value
            #expect(saved == [try Data(contentsOf: source), try Data(contentsOf: source)])
            await alice.disconnect()
            await bob.disconnect()
        }
    }

    @Test("a wrong password is a typed authentication failure")
    func wrongPassword() async throws {
        try await ProsodyServer.with { prosody in
            let fixture = ClientFixture(host: "127.0.0.1", port: prosody.port, domain: "localhost", trust: .caFile(prosody.certificatePath))
            let carol = try fixture.client("carol")
            try await carol.connect(registering: true)
            await carol.disconnect()
            do {
                try await XMPPClient(configuration: try fixture.configuration("carol", password: "wrong")).connect()
                Issue.record("logged in with a wrong password")
            } catch XMPPClientError.authenticationFailed(let error) {
                #expect(error.condition == .notAuthorized)
            }
        }
    }
}
