import Foundation

/// The outcome of one scenario run, written as JSON for the side-by-side scripts to aggregate.
public struct BenchReport: Codable, Sendable {
    /// The scenario's name (`connect`, `login`, `throughput`, `rate`, `churn`, `muc`, `soak`).
    public var scenario: String
    /// `host:port` of the server under load.
    public var target: String
    /// When the run started (ISO 8601).
    public var started: String
    /// The scenario's parameters (counts, seconds, rates).
    public var parameters: [String: Double]
    /// The measured figures; names carry their unit (`_per_second`, `_ms`, `_kib`, ...).
    public var figures: [String: Double]
    /// The first few errors seen, if any (their total is in `figures`).
    public var errors: [String]
    /// Figures sampled over time (the soak's server memory every 10 s), when a scenario records them.
    public var series: [String: [Double]] = [:]

    /// Creates an empty report for `scenario`.
    public init(scenario: String, target: BenchTarget, parameters: [String: Double]) {
        self.scenario = scenario
        self.target = "\(target.host):\(target.port)"
        self.started = Date().formatted(.iso8601)
        self.parameters = parameters
        self.figures = [:]
        self.errors = []
    }

    /// The report as pretty-printed JSON with sorted keys.
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return (try? encoder.encode(self)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }
}
