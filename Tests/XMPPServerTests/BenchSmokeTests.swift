import Foundation
import NIOCore
import NIOPosix
import Testing
import XMPPBench
import XMPPCore
import XMPPServer
import XMPPTestSupport
import XMPPServerKernel

/// xmpp-bench's scenarios, small, against an in-process xmppd: they still work and lose nothing. The real
/// runs (docs/BENCHMARKS.md) are never part of the tests.
@Suite struct BenchSmokeTests {
    static let accounts = 8

    private func withBench(_ security: BenchTarget.Security = .starttls, mechanism: SASLMechanism = .scramSHA1,
                           configure: (inout ServerConfiguration) -> Void = { _ in },
                           mobile: Bool = false, prepare: (TestServer) async throws -> Void = { _ in },
                           _ body: (BenchContext) async throws -> Void) async throws {
        // A load generator against a whole server: a scenario like the others, which waits for its place in the gate.
        try await TestGate.servers.run {
            try await benchAgainstAServer(security, mechanism: mechanism, configure: configure, mobile: mobile, prepare: prepare, body)
        }
    }

    private func benchAgainstAServer(_ security: BenchTarget.Security, mechanism: SASLMechanism, configure: (inout ServerConfiguration) -> Void,
                                     mobile: Bool, prepare: (TestServer) async throws -> Void,
                                     _ body: (BenchContext) async throws -> Void) async throws {
        let server = try await TestServer.start(storage: "memory", configure: configure)
        for i in 1...Self.accounts {
            let created = try await server.server.kernel.storage.accounts.createAccount(
                "bench\(i)", credentials: SCRAMCredentials.allHashes(password: "secret\(i)"))
            try #require(created)
        }
        try await prepare(server)
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
        let port = switch security {
        case .starttls: server.port
        case .direct: server.tlsPort
        case .websocket: server.httpPort ?? 0
        }
        var target = BenchTarget(host: "127.0.0.1", port: port,
                                 domain: "localhost", security: security, mechanism: mechanism, accountCount: Self.accounts)
        target.mobile = mobile
        let context = BenchContext(connector: try BenchConnector(target: target, group: group), serverPID: getpid())
        do {
            try await body(context)
        } catch {
            try? await group.shutdownGracefully()
            await server.stop()
            throw error
        }
        try await group.shutdownGracefully()
        await server.stop()
    }

    @Test func archiveQueriesPageBackThroughAFilledArchive() async throws {
        try await withBench(prepare: { server in
            let owner = try JID("bench1@localhost/phone"), contact = try JID("bench2@localhost/laptop")
            let entries = (0..<120).map { index in
                (archive: "bench1", entry: ArchivedStanza(id: "e\(index)", timestamp: Date().addingTimeInterval(Double(index - 120)),
                                                          with: contact, element: Message(type: .chat, to: contact, from: owner, body: "m\(index)").element))
            }
            try await server.server.kernel.storage.archives.append(entries)
        }) { context in
            let report = await ArchiveQueryScenario(queries: 6, pageSize: 50).run(context)
            #expect(report.errors == [])
            #expect(report.figures["failures"] == 0)
            // 50, 50, 20, then from the newest page again: 50, 50, 20.
            #expect(report.figures["messages_per_query"] == 40)
            #expect((report.figures["query_p99_ms"] ?? -1) >= 0)
            let filtered = await ArchiveQueryScenario(queries: 2, pageSize: 50, with: "bench2").run(context)
            #expect(filtered.figures["failures"] == 0 && filtered.figures["messages_per_query"] == 50)
        }
    }

    @Test func loginStormLogsEveryConnectionInAndOut() async throws {
        try await withBench { context in
            let report = await LoginScenario(logins: 12, concurrency: 2, accounts: 1...Self.accounts).run(context)
            #expect(report.errors == [])
            #expect(report.figures["logins"] == 12)
            #expect(report.figures["failures"] == 0)
            #expect((report.figures["server_cpu_ms_per_login"] ?? -1) >= 0)
        }
    }

    @Test func connectHoldsConnectionsAndMeasuresTheServer() async throws {
        try await withBench(.direct, mechanism: .scramSHA256) { context in
            let report = await ConnectScenario(connections: 6, concurrency: 3, holdSeconds: 0.2).run(context)
            #expect(report.errors == [])
            #expect(report.figures["connected"] == 6)
            #expect(report.figures["still_open_after_hold"] == 6)
            #expect((report.figures["server_rss_held_kib"] ?? 0) > 0)
        }
    }

    @Test(arguments: [BenchTarget.Security.starttls, .websocket])
    func throughputDeliversEveryMessage(security: BenchTarget.Security) async throws {
        try await withBench(security) { context in
            let scenario = ThroughputScenario(pairs: 2, load: .window(5), warmupSeconds: 0.2, seconds: 1, drainSeconds: 5)
            let report = await scenario.run(context)
            #expect(report.errors == [])
            #expect((report.figures["delivered"] ?? 0) > 0)
            #expect((report.figures["sent_total"] ?? 0) > 0)
            #expect(report.figures["received_total"] == report.figures["sent_total"])
            #expect(report.figures["lost"] == 0)
            #expect(report.figures["bounced"] == 0)
            #expect((report.figures["latency_p50_ms"] ?? 0) > 0)
        }
    }

    /// Mobile clients (carbons, stream management) lose nothing, and the server's unacknowledged queues stay short:
    /// the generator answers every <r/>.
    @Test func mobileThroughputDeliversEveryMessageAndAcknowledges() async throws {
        var server: TestServer?
        try await withBench(mobile: true, prepare: { server = $0 }) { context in
            let scenario = ThroughputScenario(pairs: 2, load: .window(5), warmupSeconds: 0.2, seconds: 1, drainSeconds: 5)
            let report = await scenario.run(context)
            #expect(report.errors == [])
            #expect((report.figures["delivered"] ?? 0) > 0)
            #expect(report.figures["lost"] == 0 && report.figures["bounced"] == 0)
            // Both directions were archived for bench1 (the first pair's sender) while the stream was managed.
            let archived = try await server!.server.kernel.storage.archives.query(ArchiveQuery(max: 0), in: "bench1").count ?? 0
            #expect(archived > 0)
        }
    }

    @Test func mucFanOutDeliversEveryMessageToEveryOccupant() async throws {
        try await withBench { context in
            let report = await MUCScenario(occupants: 6, senders: 2, window: 3, warmupSeconds: 0.3, seconds: 1).run(context)
            #expect(report.errors.isEmpty, "\(report.errors)")
            #expect((report.figures["delivered_per_second"] ?? 0) > 0)
            #expect(report.figures["lost"] == 0, "every message reached all six occupants")
            #expect(report.figures["delivered_total"] == (report.figures["sent_total"] ?? -1) * 6)
        }
    }

    @Test func soakRunsEverythingAtOnceAndLosesNothing() async throws {
        // An idle timeout shorter than the run (9 s): receivers and listening occupants stay only by keeping alive
        // (6 s rather than less: the whole test suite runs beside it on two cores). The write stall (4 s) cuts the
        // slow readers off within the run, but not a receiver that the loaded machine let fall 2 s behind.
        try await withBench(configure: { $0.limits.writeStallSeconds = 4; $0.limits.idleTimeoutSeconds = 6 }) { context in
            var soak = SoakScenario(pairs: 1, chatRate: 20, occupants: 3, roomSenders: 1, loginsPerSecond: 1,
                                    slowReaderInterval: 2, minutes: 0.15, warmupMinutes: 0)
            soak.slowReaderPatience = 6
            soak.keepaliveInterval = 1
            let report = await soak.run(context)
            #expect(report.errors.isEmpty, "\(report.errors)")
            #expect(report.figures["chat_lost"] == 0 && report.figures["room_lost"] == 0, "\(report.figures)")
            #expect((report.figures["chat_delivered"] ?? 0) > 0 && (report.figures["room_delivered"] ?? 0) > 0)
            #expect((report.figures["logins"] ?? 0) > 0 && report.figures["login_failures"] == 0)
            #expect((report.figures["slow_readers"] ?? 0) >= 1)
            #expect(report.figures["slow_readers_cut_off"] != nil, "reported (whether the server had to cut one off depends on the kernel's buffers)")
            #expect(!(report.series["server_rss_kib_every_10s"] ?? []).isEmpty)
        }
    }

    @Test func fixedRateOffersWhatWasAsked() async throws {
        try await withBench(.direct) { context in
            let scenario = ThroughputScenario(pairs: 2, load: .rate(200), warmupSeconds: 0.2, seconds: 1, drainSeconds: 5)
            let report = await scenario.run(context)
            #expect(report.figures["lost"] == 0)
            let delivered = report.figures["delivered_per_second"] ?? 0
            // About what was asked, not exactly: the measured second stretches when the whole suite runs beside it.
            // An open loop catches up after a stall, so a short measurement can read above the rate too.
            #expect(delivered > 50 && delivered < 1000, "delivered \(delivered)/s (far from saturation, thousands/s)")
        }
    }

    @Test func latencyHistogramQuantiles() {
        var histogram = LatencyHistogram()
        for microseconds in 1...1000 { histogram.record(microseconds: UInt64(microseconds) * 10) }
        #expect(histogram.count == 1000)
        // 5 ms and 9.9 ms, within the histogram's 1.6% bucket error.
        #expect(abs(histogram.milliseconds(atQuantile: 0.5) - 5) < 0.08)
        #expect(abs(histogram.milliseconds(atQuantile: 0.99) - 9.9) < 0.16)
        #expect(histogram.milliseconds(atQuantile: 1) >= 10)
        #expect(LatencyHistogram().milliseconds(atQuantile: 0.5) == 0)
    }
}
