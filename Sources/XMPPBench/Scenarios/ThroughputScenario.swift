import NIOCore

/// `throughput` and `rate`: P sender/receiver pairs exchange chat messages for a while, either as fast as
/// the server delivers them with a bounded window in flight per pair (closed loop), or at a fixed total rate
/// (open loop). Every message is accounted for: after the run the pairs drain, and what never arrived is
/// reported as lost.
public struct ThroughputScenario: Sendable {
    /// How messages are offered.
    public enum Load: Sendable {
        /// Keep this many messages in flight per pair.
        case window(Int)
        /// Offer this many messages per second in total, spread evenly over the pairs.
        case rate(Double)
    }

    /// Sender/receiver pairs (accounts 1...2P).
    public var pairs: Int
    /// Closed or open loop.
    public var load: Load
    /// Seconds before measuring starts.
    public var warmupSeconds: Double
    /// Seconds measured.
    public var seconds: Double
    /// Seconds to wait for messages still in flight at the end before calling them lost.
    public var drainSeconds: Double

    /// Creates the scenario.
    public init(pairs: Int, load: Load, warmupSeconds: Double = 2, seconds: Double = 10, drainSeconds: Double = 10) {
        self.pairs = pairs
        self.load = load
        self.warmupSeconds = warmupSeconds
        self.seconds = seconds
        self.drainSeconds = drainSeconds
    }

    var name: String {
        if case .rate = load { return "rate" }
        return "throughput"
    }

    /// Logs the pairs in, runs the load, and reports.
    public func run(_ context: BenchContext) async -> BenchReport {
        var report = BenchReport(scenario: name, target: context.connector.target, parameters: parameters)
        do {
            let pairs = try await Self.openPairs(context, count: pairs)
            await measure(pairs, context, into: &report, prefix: "")
            await Self.close(pairs)
        } catch {
            report.figures["failures"] = 1
            report.errors.append("\(error)")
        }
        return report
    }

    var parameters: [String: Double] {
        var parameters = ["pairs": Double(pairs), "warmup_seconds": warmupSeconds, "seconds": seconds]
        switch load {
        case .window(let window): parameters["window"] = Double(window)
        case .rate(let rate): parameters["rate"] = rate
        }
        return parameters
    }

    /// Logs in `count` pairs, each on one event loop; sender `2k+1`, receiver `2k+2` (on the second server, if any).
    static func openPairs(_ context: BenchContext, count: Int) async throws -> [MessagePair] {
        var pairs: [MessagePair] = []
        for start in stride(from: 0, to: count, by: 50) {
            let batch = try await withThrowingTaskGroup(of: MessagePair.self) { group in
                for k in start..<min(count, start + 50) {
                    group.addTask {
                        let loop = context.connector.group.next()
                        async let sender = context.connector.login(account: 2 * k + 1, connection: 2 * k, on: loop).get()
                        async let receiver = (context.receiverConnector ?? context.connector)
                            .login(account: 2 * k + 2, connection: 2 * k + 1, on: loop).get()
                        let (s, r) = try await (sender, receiver)
                        return try await loop.submit { MessagePair(sender: s, receiver: r) }.get()
                    }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            pairs += batch
        }
        return pairs
    }

    static func close(_ pairs: [MessagePair]) async {
        for pair in pairs {
            try? await pair.sender.close().get()
            try? await pair.receiver.close().get()
        }
    }

    /// Runs the load on open pairs and writes figures named with `prefix` into the report.
    func measure(_ pairs: [MessagePair], _ context: BenchContext, into report: inout BenchReport, prefix: String) async {
        let pairCount = pairs.count
        for (index, pair) in pairs.enumerated() {
            try? await pair.eventLoop.submit {
                switch load {
                case .window(let window):
                    pair.startClosedLoop(window: window)
                case .rate(let rate):
                    let interval = Int64(1e9 * Double(pairCount) / max(rate, 1))
                    pair.startOpenLoop(intervalNanoseconds: interval, phase: interval * Int64(index) / Int64(pairCount), cap: 10_000)
                }
            }.get()
        }
        try? await Task.sleep(for: .seconds(warmupSeconds))
        for pair in pairs { try? await pair.eventLoop.submit { pair.startRecording() }.get() }
        let first = await Self.totals(pairs)
        let measured = MeasurementWindow(context)
        try? await Task.sleep(for: .seconds(seconds))
        let last = await Self.totals(pairs)
        let stretch = measured.end(context)
        for pair in pairs { try? await pair.eventLoop.submit { pair.stop() }.get() }

        // Drain: wait until nothing is in flight, or give up and count the rest as lost.
        let drainDeadline = BenchContext.now() + drainSeconds
        var final = await Self.totals(pairs)
        while final.inFlight > 0 && BenchContext.now() < drainDeadline {
            try? await Task.sleep(for: .milliseconds(100))
            final = await Self.totals(pairs)
        }

        let delivered = Double(last.counts.received - first.counts.received)
        report.figures[prefix + "delivered"] = delivered
        report.figures[prefix + "delivered_per_second"] = delivered / stretch.elapsed
        report.figures[prefix + "latency_p50_ms"] = last.counts.histogram.milliseconds(atQuantile: 0.5)
        report.figures[prefix + "latency_p99_ms"] = last.counts.histogram.milliseconds(atQuantile: 0.99)
        report.figures[prefix + "latency_p999_ms"] = last.counts.histogram.milliseconds(atQuantile: 0.999)
        report.figures[prefix + "sent_total"] = Double(final.counts.sent)
        report.figures[prefix + "received_total"] = Double(final.counts.received)
        report.figures[prefix + "bounced"] = Double(final.counts.bounced)
        report.figures[prefix + "skipped"] = Double(final.counts.skipped)
        report.figures[prefix + "lost"] = Double(final.counts.sent) - Double(final.counts.received + final.counts.bounced)
        report.recordCPU(stretch, delivered: delivered, prefix: prefix)
    }

    private static func totals(_ pairs: [MessagePair]) async -> (counts: MessagePair.Counts, inFlight: Int) {
        var total = MessagePair.Counts()
        var inFlight = 0
        for pair in pairs {
            guard let (counts, flying) = try? await pair.eventLoop.submit({ (pair.counts, pair.inFlightCount) }).get() else { continue }
            total.sent += counts.sent
            total.received += counts.received
            total.bounced += counts.bounced
            total.skipped += counts.skipped
            total.histogram.merge(counts.histogram)
            inFlight += flying
        }
        return (total, inFlight)
    }
}
