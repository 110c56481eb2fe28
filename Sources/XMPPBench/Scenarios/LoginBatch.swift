import NIOCore

/// Logs many connections in with bounded concurrency, and either keeps them open or closes each at once.
struct LoginBatch {
    /// The connections kept open (empty when closing each).
    var connections: [BenchConnection] = []
    /// Login latency: from the TCP connect to the bind result.
    var latency = LatencyHistogram()
    /// Logins that succeeded.
    var succeeded = 0
    /// Logins that failed.
    var failures = 0
    /// The first few failures.
    var errors: [String] = []
    /// Seconds from the first connect to the last login.
    var seconds = 0.0

    /// Logs in `count` connections (numbered from `firstNumber`) using accounts from `accounts`, at most
    /// `concurrency` at a time.
    static func run(_ context: BenchContext, count: Int, firstNumber: Int = 0, accounts: ClosedRange<Int>,
                    concurrency: Int, keepOpen: Bool) async -> LoginBatch {
        var batch = LoginBatch()
        let start = BenchContext.now()
        await withTaskGroup(of: Result<(BenchConnection?, Double), any Error>.self) { group in
            var next = 0
            func addLogin() {
                let number = firstNumber + next
                next += 1
                let account = accounts.lowerBound + number % accounts.count
                group.addTask {
                    let begin = BenchContext.now()
                    do {
                        let connection = try await context.connector.login(account: account, connection: number).get()
                        let elapsed = BenchContext.now() - begin
                        if keepOpen { return .success((connection, elapsed)) }
                        try? await connection.close().get()
                        return .success((nil, elapsed))
                    } catch {
                        return .failure(error)
                    }
                }
            }
            while next < min(count, max(1, concurrency)) { addLogin() }
            for await result in group {
                switch result {
                case .success(let (connection, elapsed)):
                    batch.succeeded += 1
                    batch.latency.record(microseconds: UInt64(elapsed * 1e6))
                    if let connection { batch.connections.append(connection) }
                case .failure(let error):
                    batch.failures += 1
                    if batch.errors.count < 5 { batch.errors.append("\(error)") }
                }
                if next < count { addLogin() }
            }
        }
        batch.seconds = BenchContext.now() - start
        return batch
    }

    /// Writes the batch's figures (failures, logins/s, latency, and the server's CPU per login when both
    /// samples are given) and its errors into `report`, names prefixed with `prefix`.
    func record(into report: inout BenchReport, prefix: String = "", serverBefore: ProcessSample? = nil,
                serverAfter: ProcessSample? = nil) {
        report.figures[prefix + "failures"] = Double(failures)
        report.figures[prefix + "logins_per_second"] = Double(succeeded) / seconds
        report.figures[prefix + "login_latency_p50_ms"] = latency.milliseconds(atQuantile: 0.5)
        report.figures[prefix + "login_latency_p99_ms"] = latency.milliseconds(atQuantile: 0.99)
        if let serverBefore, let serverAfter {
            report.figures[prefix + "server_cpu_ms_per_login"] =
                serverAfter.cpuSeconds(since: serverBefore) * 1000 / Double(max(1, succeeded))
        }
        report.errors += errors
    }

    /// Closes every kept connection.
    func closeAll() async {
        for connection in connections { connection.close() }
        for connection in connections { try? await connection.channel.closeFuture.get() }
    }
}
