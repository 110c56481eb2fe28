import NIOCore

/// `connect`: opens C idle, authenticated connections and holds them; reports the server's memory per
/// connection and CPU per login.
public struct ConnectScenario: Sendable {
    /// How many connections to hold (each uses its own account).
    public var connections: Int
    /// Logins in flight at once.
    public var concurrency: Int
    /// Seconds to hold the connections before measuring memory and closing them.
    public var holdSeconds: Double

    /// Creates the scenario.
    public init(connections: Int, concurrency: Int = 100, holdSeconds: Double = 5) {
        self.connections = connections
        self.concurrency = concurrency
        self.holdSeconds = holdSeconds
    }

    /// Runs it.
    public func run(_ context: BenchContext) async -> BenchReport {
        var report = BenchReport(scenario: "connect", target: context.connector.target,
                                 parameters: ["connections": Double(connections), "concurrency": Double(concurrency),
                                              "hold_seconds": holdSeconds])
        let benchCPU = ProcessSample.ownCPUSeconds()
        let before = context.serverSample()
        let batch = await LoginBatch.run(context, count: connections, accounts: 1...max(1, connections),
                                         concurrency: concurrency, keepOpen: true)
        let afterLogins = context.serverSample()
        try? await Task.sleep(for: .seconds(holdSeconds))
        let held = context.serverSample()
        let open = batch.connections.filter { $0.channel.isActive }.count
        await batch.closeAll()

        report.figures["connected"] = Double(batch.connections.count)
        report.figures["still_open_after_hold"] = Double(open)
        batch.record(into: &report, serverBefore: before, serverAfter: afterLogins)
        if let before, let held, open > 0 {
            report.figures["server_rss_before_kib"] = Double(before.rssKiB)
            report.figures["server_rss_held_kib"] = Double(held.rssKiB)
            report.figures["server_rss_kib_per_connection"] = Double(held.rssKiB - before.rssKiB) / Double(open)
            report.figures["server_processes"] = Double(held.processCount)
        }
        report.figures["bench_cpu_seconds"] = ProcessSample.ownCPUSeconds() - benchCPU
        return report
    }
}
