/// A figure a module reports to operators (`xmppctl stats`): a name in snake case with its unit, and a reader.
public typealias StatisticReader = @Sendable (ServerKernel) -> Int

extension ModuleHost {
    /// Reports `name` (e.g. `mam_write_queue`) in the server's statistics, read by `read` when asked.
    public func addStatistic(_ name: String, _ read: @escaping StatisticReader) {
        precondition(hooks.statistics[name] == nil, "two modules report \(name)")
        hooks.statistics[name] = read
    }
}

extension ServerKernel {
    /// The modules' statistics, by name, read now.
    public var statistics: [(name: String, value: Int)] {
        hooks.statistics.keys.sorted().map { ($0, hooks.statistics[$0]!(self)) }
    }
}
