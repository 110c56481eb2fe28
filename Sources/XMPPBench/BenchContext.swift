import Foundation

/// Where a scenario runs: the connector, and the server process whose memory and CPU it samples.
public struct BenchContext: Sendable {
    /// Opens connections to the target.
    public var connector: BenchConnector
    /// The server's process id, when known (its tree is sampled from `/proc`).
    public var serverPID: Int32?

    /// Creates a context.
    public init(connector: BenchConnector, serverPID: Int32?) {
        self.connector = connector
        self.serverPID = serverPID
    }

    /// A sample of the server's process tree, if its pid is known and it runs.
    func serverSample() -> ProcessSample? { serverPID.flatMap(ProcessSample.of(pid:)) }

    /// Seconds since an arbitrary monotonic origin.
    static func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) / 1e9 }
}
