/// Latencies in microseconds, counted in log-linear buckets (exact below 128 µs, then 64 buckets per power
/// of two: under 1.6% error). Recording is an index computation and an increment; histograms merge by adding.
public struct LatencyHistogram: Sendable {
    private static let subBuckets = 64
    private var counts = [UInt64](repeating: 0, count: 128 + 48 * subBuckets)

    /// How many latencies were recorded.
    public private(set) var count: UInt64 = 0

    /// Creates an empty histogram.
    public init() {}

    /// Counts one latency.
    public mutating func record(microseconds value: UInt64) {
        counts[Self.index(of: value)] += 1
        count += 1
    }

    /// Adds another histogram's counts to this one.
    public mutating func merge(_ other: LatencyHistogram) {
        for index in counts.indices { counts[index] += other.counts[index] }
        count += other.count
    }

    /// The latency below which the fraction `quantile` (0...1) of recorded values fall, in milliseconds;
    /// 0 when empty.
    public func milliseconds(atQuantile quantile: Double) -> Double {
        guard count > 0 else { return 0 }
        let rank = max(1, UInt64((Double(count) * quantile).rounded(.up)))
        var seen: UInt64 = 0
        for (index, bucketCount) in counts.enumerated() where bucketCount > 0 {
            seen += bucketCount
            if seen >= rank { return Double(Self.upperBound(of: index)) / 1000 }
        }
        return Double(Self.upperBound(of: counts.count - 1)) / 1000
    }

    static func index(of value: UInt64) -> Int {
        if value < 128 { return Int(value) }
        let shift = (63 - value.leadingZeroBitCount) - 6
        let index = 128 + (shift - 1) * subBuckets + Int((value >> UInt64(shift)) - 64)
        return min(index, 128 + 48 * subBuckets - 1)
    }

    static func upperBound(of index: Int) -> UInt64 {
        if index < 128 { return UInt64(index) }
        let shift = (index - 128) / subBuckets + 1
        let step = UInt64((index - 128) % subBuckets + 64)
        return ((step + 1) << UInt64(shift)) - 1
    }
}
