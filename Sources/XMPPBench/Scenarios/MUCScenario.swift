import NIOCore

/// `muc`: group-chat fan-out. K accounts enter one room; the first S of them keep a window of groupchat messages in
/// flight each, every message delivered to all K occupants (the sender's own copy included, XEP-0045 §7.4). Figures:
/// delivered messages per second, latency, server CPU per delivered message, lost (sent × K − delivered).
public struct MUCScenario: Sendable {
    /// Occupants (accounts 1...K).
    public var occupants: Int
    /// How many of them send.
    public var senders: Int
    /// Messages in flight per sender.
    public var window: Int
    /// Seconds before measuring starts.
    public var warmupSeconds: Double
    /// Seconds measured.
    public var seconds: Double
    /// Seconds to wait for messages still in flight at the end before calling them lost.
    public var drainSeconds: Double

    /// Creates the scenario.
    public init(occupants: Int, senders: Int, window: Int, warmupSeconds: Double = 2, seconds: Double = 10, drainSeconds: Double = 10) {
        self.occupants = occupants
        self.senders = min(senders, occupants)
        self.window = window
        self.warmupSeconds = warmupSeconds
        self.seconds = seconds
        self.drainSeconds = drainSeconds
    }

    /// Logs the occupants in, fills the room, runs the load, and reports.
    public func run(_ context: BenchContext) async -> BenchReport {
        var report = BenchReport(scenario: "muc", target: context.connector.target, parameters: [
            "occupants": Double(occupants), "senders": Double(senders), "window": Double(window),
            "warmup_seconds": warmupSeconds, "seconds": seconds,
        ])
        do {
            let members = try await enter(context)
            await measure(members, context, into: &report)
            for member in members { try? await member.connection.close().get() }
        } catch {
            report.figures["failures"] = 1
            report.errors.append("\(error)")
        }
        return report
    }

    /// Logs accounts `firstAccount`... in and fills a fresh room with them (the first creates it); the members, the
    /// first of them the owner.
    func enter(_ context: BenchContext, firstAccount: Int = 1) async throws -> [RoomMember] {
        let room = "bench\(UInt32.random(in: 0...UInt32.max))@conference.\(context.connector.target.domain)"
        var members: [RoomMember] = []
        for start in stride(from: 0, to: occupants, by: 50) {
            let batch = try await withThrowingTaskGroup(of: RoomMember.self) { group in
                for index in start..<min(occupants, start + 50) {
                    group.addTask {
                        let account = firstAccount + index
                        let connection = try await context.connector.login(account: account, connection: account).get()
                        return try await connection.eventLoop.submit { RoomMember(connection: connection, room: room, nickname: "u\(index + 1)") }.get()
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            members += batch
        }
        members.sort { $0.nickname.count == $1.nickname.count ? $0.nickname < $1.nickname : $0.nickname.count < $1.nickname.count }
        // The first creates the room and accepts the defaults; then everyone else enters.
        let owner = members[0]
        try await owner.eventLoop.flatSubmit { owner.enter() }.get()
        try await owner.eventLoop.flatSubmit { owner.unlockRoom() }.get()
        for start in stride(from: 1, to: members.count, by: 50) {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for member in members[start..<min(members.count, start + 50)] {
                    group.addTask { try await member.eventLoop.flatSubmit { member.enter() }.get() }
                }
                try await group.waitForAll()
            }
        }
        return members
    }

    private func measure(_ members: [RoomMember], _ context: BenchContext, into report: inout BenchReport) async {
        for member in members.prefix(senders) {
            try? await member.eventLoop.submit { member.startSending(window: window) }.get()
        }
        try? await Task.sleep(for: .seconds(warmupSeconds))
        for member in members { try? await member.eventLoop.submit { member.startRecording() }.get() }
        let first = await Self.totals(members)
        let measured = MeasurementWindow(context)
        try? await Task.sleep(for: .seconds(seconds))
        let last = await Self.totals(members)
        let stretch = measured.end(context)
        for member in members { try? await member.eventLoop.submit { member.stop() }.get() }
        let drainDeadline = BenchContext.now() + drainSeconds
        var final = await Self.totals(members)
        while final.received < final.sent * UInt64(members.count) && BenchContext.now() < drainDeadline {
            try? await Task.sleep(for: .milliseconds(100))
            final = await Self.totals(members)
        }
        let delivered = Double(last.received - first.received)
        report.figures["delivered_per_second"] = delivered / stretch.elapsed
        report.figures["latency_p50_ms"] = last.histogram.milliseconds(atQuantile: 0.5)
        report.figures["latency_p99_ms"] = last.histogram.milliseconds(atQuantile: 0.99)
        report.figures["sent_total"] = Double(final.sent)
        report.figures["delivered_total"] = Double(final.received)
        report.figures["lost"] = Double(final.sent) * Double(members.count) - Double(final.received)
        report.recordCPU(stretch, delivered: delivered)
    }

    private static func totals(_ members: [RoomMember]) async -> (sent: UInt64, received: UInt64, histogram: LatencyHistogram) {
        var total: (sent: UInt64, received: UInt64, histogram: LatencyHistogram) = (0, 0, LatencyHistogram())
        for member in members {
            guard let (sent, received, histogram) = try? await member.eventLoop.submit({ (member.sent, member.received, member.histogram) }).get() else { continue }
            total.sent += sent
            total.received += received
            total.histogram.merge(histogram)
        }
        return total
    }
}
