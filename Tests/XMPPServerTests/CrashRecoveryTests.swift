import Foundation
import Testing
import XMPPCore
import XMPPServerKernel
import XMPPTestSupport

/// `kill -9` of a real xmppd process while a client sends under stream management: every message the server
/// acknowledged (`<a h/>`) to a recipient without a session is in offline storage after the restart.
@Suite struct CrashRecoveryTests {
    @Test func everyAcknowledgedMessageSurvivesKillNine() async throws {
        let probe = try await TestServer.start(storage: "memory")
        let port = probe.port
        await probe.stop()
        // Room in offline storage for all 3000 (past offline_limit a message is bounced, not stored: handled all the same).
        let server = try await XMPPDProcess.start(port: port, extraArguments: ["--set", "require_tls=false", "--set", "offline_limit=5000"])
        defer { Task { await server.stop() } }
        let directory = server.directory
        let created = try await runProcess([builtExecutable("xmppctl"), "addusers", "2", "--data-dir", directory], timeout: 60)
        #expect(created.status == 0, "\(created.output)")

        let sender = try await RawStreamClient.connect(port: port, user: "bench1", password: "secret1")
        sender.send("<enable xmlns='urn:xmpp:sm:3'/>")
        _ = await sender.collect { $0.isStreamManagement("enabled") }
        // bench2 is offline: each message goes to storage. The server is killed while they stream in.
        let pid = try #require(server.pid)
        let killer = Task {
            try await Task.sleep(for: .milliseconds(150))
            kill(pid, SIGKILL)
        }
        // Sending blocks when the server is slow: on a thread of its own, never on the tests' shared threads.
        var acknowledged: UInt32 = try await blocking {
            var acknowledged: UInt32 = 0
            for index in 1...3000 {
                guard sender.socket.send("<message xmlns='jabber:client' to='bench2@localhost' type='chat'><body>n\(index)</body></message><r xmlns='urn:xmpp:sm:3'/>") else { break }
                guard index.isMultiple(of: 50) else { continue }
                var answered = false
                while let element = sender.nextNow(timeout: .seconds(2)) {
                    guard element.isStreamManagement("a"), let h = StreamManagementVocabulary.handledCount(in: element) else { continue }
                    acknowledged = max(acknowledged, h)
                    answered = true
                    break
                }
                if !answered { break }
            }
            return acknowledged
        }
        try await killer.value
        // Answers still in the socket count too.
        while let element = await sender.next(timeout: .milliseconds(200)) {
            if element.isStreamManagement("a"), let h = StreamManagementVocabulary.handledCount(in: element) { acknowledged = max(acknowledged, h) }
        }
        #expect(acknowledged > 0 && acknowledged < 3000, "killed midway: \(acknowledged) acknowledged")

        await server.kill9()   // reaped, and its port free
        try await server.start()
        let recipient = try await RawStreamClient.connect(port: port, user: "bench2", password: "secret2")
        recipient.send("<presence xmlns='jabber:client'/>")
        var bodies: Set<String> = []
        var missing = Set((1...Int(acknowledged)).map { "n\($0)" })
        // Until every acknowledged one is in, or 3 s pass without anything (offline delivery comes in batches).
        while !missing.isEmpty, let element = await recipient.next(timeout: .seconds(3)) {
            if let body = element.child("body")?.text { bodies.insert(body); missing.remove(body) }
        }
        print("crash recovery: \(acknowledged) acknowledged before kill -9, \(bodies.count) delivered after the restart")
        #expect(missing.isEmpty, "acknowledged \(acknowledged), missing after the restart: \(missing.sorted().prefix(10))")
    }
}
