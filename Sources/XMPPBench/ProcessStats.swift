#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// Memory and CPU of a process and all its descendants, read from `/proc` (Linux only; elsewhere every
/// sample is `nil`). Servers such as ejabberd run helper processes, so a fair figure counts the whole tree.
public struct ProcessSample: Sendable, Codable {
    /// Resident set size of the process tree, in KiB.
    public var rssKiB: Int
    /// Each counted process's CPU seconds (user plus system), by pid.
    public var cpuByProcess: [Int32: Double]

    /// User plus system CPU time the process tree has used, in seconds.
    public var cpuSeconds: Double { cpuByProcess.values.reduce(0, +) }
    /// How many processes were counted.
    public var processCount: Int { cpuByProcess.count }

    /// The CPU seconds the tree used since `earlier`, process by process: one that ended meanwhile drops out rather
    /// than taking its whole past off the total (a plain difference of totals can go negative when a busy child exits,
    /// as a test process's children do); one that started meanwhile counts in full.
    public func cpuSeconds(since earlier: ProcessSample) -> Double {
        cpuByProcess.reduce(0) { total, process in total + max(0, process.value - (earlier.cpuByProcess[process.key] ?? 0)) }
    }

    /// Adds another process's or tree's figures (a child, a second server); a pid in both counts once.
    public mutating func add(_ other: ProcessSample) {
        rssKiB += other.rssKiB
        cpuByProcess.merge(other.cpuByProcess) { mine, _ in mine }
    }

    /// Samples the process `pid` and its descendants, or `nil` when it does not exist.
    public static func of(pid: Int32) -> ProcessSample? {
        guard let root = sampleOne(pid) else { return nil }
        var total = root
        var visited: Set<Int32> = [pid]
        var queue = children(of: pid)
        while let next = queue.popLast() {
            guard visited.insert(next).inserted, let sample = sampleOne(next) else { continue }
            total.add(sample)
            queue += children(of: next)
        }
        return total
    }

    /// CPU seconds this process has used (user plus system), for a load generator to report its own cost.
    public static func ownCPUSeconds() -> Double {
        var usage = rusage()
        #if canImport(Glibc)
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        #else
        getrusage(RUSAGE_SELF, &usage)
        #endif
        return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
            + Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    }

    private static let ticksPerSecond = Double(sysconf(Int32(_SC_CLK_TCK)))

    private static func sampleOne(_ pid: Int32) -> ProcessSample? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let afterName = stat.range(of: ") ", options: .backwards) else { return nil }
        // Fields after the command name start at field 3 (state); utime and stime are fields 14 and 15.
        let fields = stat[afterName.upperBound...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        let rss = status.split(separator: "\n").first { $0.hasPrefix("VmRSS:") }
            .flatMap { line in line.split(separator: " ").dropFirst().first.flatMap { Int($0) } } ?? 0
        return ProcessSample(rssKiB: rss, cpuByProcess: [pid: (user + system) / ticksPerSecond])
    }

    private static func children(of pid: Int32) -> [Int32] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        return tasks.flatMap { task -> [Int32] in
            let list = (try? String(contentsOfFile: "/proc/\(pid)/task/\(task)/children", encoding: .utf8)) ?? ""
            return list.split(separator: " ").compactMap { Int32($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
    }
}
