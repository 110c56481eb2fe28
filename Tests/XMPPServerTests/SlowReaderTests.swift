import Foundation
import NIOCore
import Testing
import XMPPCore
import XMPPServer
import XMPPServerKernel
import XMPPTestSupport

/// A client that asks for more than it reads is cut off, not buffered without end (docs/SECURITY.md): the
/// attack of the hardening review, replayed over a real socket with a 4 KiB receive buffer.
@Suite struct SlowReaderTests {
    /// Logs in over plain TCP (the test server allows it) with the client negotiation machine, byte by byte over a
    /// blocking socket; returns the socket and the parser holding what was read after login.
    static func login(port: Int, user: String, password: String, receiveBuffer: Int32,
                      sourceAddress: String? = nil) async throws -> (Socket, XMLStreamParser, JID) {
        let client = try await RawStreamClient.connect(port: port, user: user, password: password, resource: nil,
                                                       receiveBuffer: receiveBuffer, sourceAddress: sourceAddress)
        return (client.socket, client.parser, client.jid)
    }

    /// Whether `jid`'s session ends within 10 s.
    static func sessionEnds(_ jid: JID, in kernel: ServerKernel) async throws -> Bool {
        for _ in 0..<200 {
            if kernel.registry.entry(jid) == nil { return true }
            try await Task.sleep(for: .milliseconds(50))
        }
        return kernel.registry.entry(jid) == nil
    }

    @Test func aClientThatAsksAndNeverReadsIsClosedNotBuffered() async throws {
        let server = try await TestServer.start(storage: "memory") { configuration in
            configuration.requireTLS = false
            configuration.limits.maxOutboundBytes = 1_048_576
            configuration.limits.readBytesPerSecond = 100_000_000
            configuration.limits.readBurstBytes = 100_000_000
        }
        defer { Task { await server.stop() } }
        let kernel = server.server.kernel
        #expect(try await kernel.createAccount("slow", password: "pw"))
        let (socket, _, jid) = try await Self.login(port: server.port, user: "slow", password: "pw", receiveBuffer: 4096)
        #expect(kernel.registry.entry(jid) != nil)

        // A 120 KB vCard, then many requests for it, and never a byte read: each answer is 120 KB.
        let description = String(repeating: "x", count: 120_000)
        _ = try await blocking { socket.send("<iq type='set' id='v'><vCard xmlns='vcard-temp'><DESC>\(description)</DESC></vCard></iq>") }
        let sent = try await blocking {
            var sent = 0
            for index in 0..<1500 {
                guard socket.send("<iq type='get' id='g\(index)'><vCard xmlns='vcard-temp'/></iq>") else { break }
                sent += 1
            }
            return sent
        }
        // Not 180 MB queued for it: the server closes the connection once 1 MiB waits.
        let closed = try await Self.sessionEnds(jid, in: kernel)
        #expect(closed, "the slow reader is still connected after \(sent) requests")
    }

    @Test func aClientThatStopsReadingIsClosedAfterTheStallTimeoutEvenUnderTheCap() async throws {
        let server = try await TestServer.start(storage: "memory") { configuration in
            configuration.requireTLS = false
            configuration.limits.maxOutboundBytes = 1_073_741_824   // the cap never applies here
            configuration.limits.writeStallSeconds = 1
        }
        defer { Task { await server.stop() } }
        let kernel = server.server.kernel
        #expect(try await kernel.createAccount("stalled", password: "pw"))
        let (socket, _, jid) = try await Self.login(port: server.port, user: "stalled", password: "pw", receiveBuffer: 4096)
        let description = String(repeating: "x", count: 120_000)
        _ = try await blocking { socket.send("<iq type='set' id='v'><vCard xmlns='vcard-temp'><DESC>\(description)</DESC></vCard></iq>") }
        _ = try await blocking { (0..<40).map { socket.send("<iq type='get' id='g\($0)'><vCard xmlns='vcard-temp'/></iq>") } }
        let closed = try await Self.sessionEnds(jid, in: kernel)
        #expect(closed, "still connected without reading")
    }

    @Test func aRoomOccupantThatNeverReadsIsClosedWhileTheRoomGoesOn() async throws {
        let server = try await TestServer.start(storage: "memory") { configuration in
            configuration.requireTLS = false
            configuration.limits.maxOutboundBytes = 1_048_576
            configuration.limits.readBytesPerSecond = 100_000_000
            configuration.limits.readBurstBytes = 100_000_000
        }
        defer { Task { await server.stop() } }
        let kernel = server.server.kernel
        for user in ["talker", "slow"] { #expect(try await kernel.createAccount(user, password: "pw")) }
        let room = "hall@conference.localhost"
        let (talker, _, talkerJID) = try await Self.login(port: server.port, user: "talker", password: "pw", receiveBuffer: 1_048_576)
        _ = try await blocking {
            talker.send("<presence to='\(room)/Talker'><x xmlns='http://jabber.org/protocol/muc'/></presence>")
            talker.send("<iq type='set' id='create' to='\(room)'><query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'/></query></iq>")
        }
        #expect(await talker.read(until: "id='create'").contains("type='result'"), "the room is open")
        let (slow, _, slowJID) = try await Self.login(port: server.port, user: "slow", password: "pw", receiveBuffer: 4096)
        _ = try await blocking { slow.send("<presence to='\(room)/Slow'><x xmlns='http://jabber.org/protocol/muc'/></presence>") }
        #expect(await talker.read(until: "\(room)/Slow").contains("\(room)/Slow"), "slow is in the room")

        // The talker reads everything; the room sends slow 4.8 MB it never reads.
        let drain = Task { try? await blocking { while !talker.readSome().isEmpty {} } }
        let text = String(repeating: "y", count: 16_000)
        let sent = try await blocking {
            (0..<300).filter { talker.send("<message type='groupchat' to='\(room)'><body>\($0) \(text)</body></message>") }.count
        }
        let closed = try await Self.sessionEnds(slowJID, in: kernel)
        #expect(closed, "the occupant that never reads is still connected after \(sent) messages")
        #expect(kernel.registry.entry(talkerJID) != nil, "the talker stays")
        drain.cancel()
    }
}
