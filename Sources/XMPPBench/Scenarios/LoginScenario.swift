/// `login`: a login storm; each connection logs in fully (TCP, TLS, SASL, bind, presence) and closes.
public struct LoginScenario: Sendable {
    /// How many logins.
    public var logins: Int
    /// Logins in flight at once.
    public var concurrency: Int
    /// Which accounts to cycle through. Each is logged in once before the storm, so the load generator's
    /// SCRAM keys are derived (and cached) outside the measurement.
    public var accounts: ClosedRange<Int>

    /// Creates the scenario.
    public init(logins: Int, concurrency: Int = 100, accounts: ClosedRange<Int>) {
        self.logins = logins
        self.concurrency = concurrency
        self.accounts = accounts
    }

    /// Runs it.
    public func run(_ context: BenchContext) async -> BenchReport {
        var report = BenchReport(scenario: "login", target: context.connector.target,
                                 parameters: ["logins": Double(logins), "concurrency": Double(concurrency)])
        let warmup = await LoginBatch.run(context, count: accounts.count, accounts: accounts, concurrency: concurrency, keepOpen: false)
        report.errors += warmup.errors
        let benchCPU = ProcessSample.ownCPUSeconds()
        let before = context.serverSample()
        let batch = await LoginBatch.run(context, count: logins, accounts: accounts, concurrency: concurrency, keepOpen: false)
        let after = context.serverSample()
        let succeeded = logins - batch.failures
        report.figures["logins"] = Double(succeeded)
        report.figures["failures"] = Double(batch.failures)
        report.figures["logins_per_second"] = Double(succeeded) / batch.seconds
        report.figures["login_latency_p50_ms"] = batch.latency.milliseconds(atQuantile: 0.5)
        report.figures["login_latency_p99_ms"] = batch.latency.milliseconds(atQuantile: 0.99)
        if let before, let after {
            report.figures["server_cpu_ms_per_login"] = (after.cpuSeconds - before.cpuSeconds) * 1000 / Double(max(1, succeeded))
        }
        let benchSeconds = ProcessSample.ownCPUSeconds() - benchCPU
        report.figures["bench_cpu_seconds"] = benchSeconds
        report.figures["bench_cpu_cores"] = benchSeconds / batch.seconds
        report.errors += batch.errors
        return report
    }
}
