import Foundation

/// Where a scenario runs: the connector, and the server process whose memory and CPU it samples. For federation,
/// a second server where the receivers of `throughput` and `rate` log in: their messages cross a server-to-server
/// stream, and "the server" in the figures is both processes together.
public struct BenchContext: Sendable {
    /// Opens connections to the target.
    public var connector: BenchConnector
    /// The server's process id, when known (its tree is sampled from `/proc`).
    public var serverPID: Int32?
    /// Opens the receivers' connections, when they are on a second server.
    public var receiverConnector: BenchConnector?
    /// The second server's process id, when known.
    public var receiverServerPID: Int32?

    /// Creates a context.
    public init(connector: BenchConnector, serverPID: Int32?, receiverConnector: BenchConnector? = nil, receiverServerPID: Int32? = nil) {
        self.connector = connector
        self.serverPID = serverPID
        self.receiverConnector = receiverConnector
        self.receiverServerPID = receiverServerPID
    }

    /// A sample of the server's process tree (both servers' added up when there are two), if its pid is known and
    /// it runs.
    func serverSample() -> ProcessSample? {
        guard var sample = serverPID.flatMap(ProcessSample.of(pid:)) else { return nil }
        guard let receiverServerPID else { return sample }
        guard let second = ProcessSample.of(pid: receiverServerPID) else { return nil }
        sample.add(second)
        return sample
    }

    /// Seconds since an arbitrary monotonic origin.
    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
}

/// The server's and the generator's CPU over one measured stretch: started before the stretch, ended after it.
struct MeasurementWindow {
    private let serverStart: ProcessSample?
    private let benchStart: Double
    private let start: Double

    /// Starts measuring now.
    init(_ context: BenchContext) {
        serverStart = context.serverSample()
        benchStart = ProcessSample.ownCPUSeconds()
        start = BenchContext.now()
    }

    /// Ends the window: the seconds it lasted, the server's CPU seconds (when its pid is known), the generator's.
    func end(_ context: BenchContext) -> (elapsed: Double, serverCPU: Double?, benchCPU: Double) {
        let elapsed = BenchContext.now() - start
        let serverCPU = zip(serverStart, context.serverSample()).map { $1.cpuSeconds(since: $0) }
        return (elapsed, serverCPU, ProcessSample.ownCPUSeconds() - benchStart)
    }
}

/// `(a, b)` when both are there.
private func zip<A, B>(_ a: A?, _ b: B?) -> (A, B)? {
    guard let a, let b else { return nil }
    return (a, b)
}

extension BenchReport {
    /// Records the CPU figures of a window in which `delivered` messages were delivered: the generator's cores, the
    /// server's cores, and the server's CPU seconds per 1,000 delivered.
    mutating func recordCPU(_ window: (elapsed: Double, serverCPU: Double?, benchCPU: Double), delivered: Double, prefix: String = "") {
        figures[prefix + "bench_cpu_cores"] = window.benchCPU / window.elapsed
        if let cpu = window.serverCPU, delivered > 0 {
            figures[prefix + "server_cpu_cores"] = cpu / window.elapsed
            figures[prefix + "server_cpu_seconds_per_1000"] = cpu * 1000 / delivered
        }
    }
}
