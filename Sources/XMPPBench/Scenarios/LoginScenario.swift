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
        report.figures["logins"] = Double(batch.succeeded)
        batch.record(into: &report, serverBefore: before, serverAfter: after)
        let benchSeconds = ProcessSample.ownCPUSeconds() - benchCPU
        report.figures["bench_cpu_seconds"] = benchSeconds
        report.figures["bench_cpu_cores"] = benchSeconds / batch.seconds
        return report
    }
}
