import Foundation
import Testing
import XMPPCore
import XMPPServer
import XMPPServerKernel
import XMPPTestSupport

/// Offline messages that used to vanish: one full of apostrophes (stored six times longer than it arrived, then
/// refused by the stream limit on the way back and dropped without a word).
@Suite struct OfflineDeliveryTests {
    @Test(arguments: ["sqlite", "memory"])
    func aMessageFullOfQuotesArrivesWhole(storage: String) async throws {
        let server = try await TestServer.start(storage: storage) { $0.requireTLS = false }
        defer { Task { await server.stop() } }
        for user in ["alice", "bob"] { #expect(try await server.server.kernel.createAccount(user, password: "pw")) }
        let body = String(repeating: "'", count: 50_000)
        let (alice, _, _) = try await SlowReaderTests.login(port: server.port, user: "alice", password: "pw", receiveBuffer: 65_536)
        _ = try await blocking { alice.send("<message to='bob@localhost' type='chat' id='quotes'><body>\(body)</body></message>") }
        // Stored before bob comes: wait until it is.
        for _ in 0..<100 where try await server.server.kernel.storage.offline.count(for: "bob") == 0 {
            try await Task.sleep(for: .milliseconds(20))
        }
        let (bob, leftover, _) = try await SlowReaderTests.login(port: server.port, user: "bob", password: "pw", receiveBuffer: 65_536)
        bob.send("<presence/>")
        let delivered = try await blocking { () throws -> Element? in
            var parser = leftover
            while true {
                let bytes = bob.readSome()
                guard !bytes.isEmpty else { return nil }
                parser.append(contentsOf: bytes)
                while let event = try parser.nextEvent() {
                    if case .element(let element) = event, element.name == "message" { return element }
                }
            }
        }
        #expect(delivered.flatMap { Message(element: $0)?.body } == body, "the message came back whole")
        #expect(delivered?.child("delay", namespace: Delay.namespace) != nil)
        var remaining = -1
        for _ in 0..<100 where remaining != 0 {
            remaining = try await server.server.kernel.storage.offline.count(for: "bob")
            if remaining != 0 { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(remaining == 0, "removed once written")
    }
}
