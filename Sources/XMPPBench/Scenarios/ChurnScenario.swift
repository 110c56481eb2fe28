/// `churn`: measures throughput, opens and closes many connections (a long login storm), then measures
/// throughput again on the same pairs. A server that leaks per-connection state gets slower per message.
public struct ChurnScenario: Sendable {
    /// The throughput measurement run before and after.
    public var throughput: ThroughputScenario
    /// How many connections to open and close in between.
    public var churnConnections: Int
    /// Logins in flight at once during the churn.
    public var concurrency: Int

    /// Creates the scenario.
    public init(throughput: ThroughputScenario, churnConnections: Int, concurrency: Int = 100) {
        self.throughput = throughput
        self.churnConnections = churnConnections
        self.concurrency = concurrency
    }

    /// Runs it.
    public func run(_ context: BenchContext) async -> BenchReport {
        var parameters = throughput.parameters
        parameters["churn_connections"] = Double(churnConnections)
        var report = BenchReport(scenario: "churn", target: context.connector.target, parameters: parameters)
        do {
            let pairs = try await ThroughputScenario.openPairs(context, count: throughput.pairs)
            await throughput.measure(pairs, context, into: &report, prefix: "before_")
            let firstChurnAccount = 2 * throughput.pairs + 1
            let accounts = firstChurnAccount...max(firstChurnAccount, context.connector.target.accountCount)
            let churn = await LoginBatch.run(context, count: churnConnections, accounts: accounts,
                                             concurrency: concurrency, keepOpen: false)
            churn.record(into: &report, prefix: "churn_")
            await throughput.measure(pairs, context, into: &report, prefix: "after_")
            await ThroughputScenario.close(pairs)
            if let before = report.figures["before_server_cpu_seconds_per_1000"],
               let after = report.figures["after_server_cpu_seconds_per_1000"], before > 0 {
                report.figures["cpu_per_message_after_over_before"] = after / before
            }
        } catch {
            report.figures["failures"] = 1
            report.errors.append("\(error)")
        }
        return report
    }
}
