import Foundation
import Logging
import XMPPCore

/// The server's most recent log lines at warning and above, for the admin console's log page: a ring of at most
/// ``capacity`` lines (the oldest drop off).
public final class RecentLogLines: Sendable {
    /// One line as logged.
    public struct Line: Sendable, Codable, Hashable {
        public var time: Date
        public var level: String
        public var message: String
        /// The metadata as `key=value` pairs, sorted by key.
        public var metadata: String
    }

    /// The most lines kept.
    public let capacity: Int
    private let lines = Locked<[Line]>([])

    public init(capacity: Int = 200) {
        self.capacity = max(1, capacity)
    }

    /// Adds a line, dropping the oldest beyond the capacity.
    func add(_ line: Line) {
        lines.withLock { lines in
            if lines.count >= capacity { lines.removeFirst(lines.count - capacity + 1) }
            lines.append(line)
        }
    }

    /// The lines kept, newest first.
    public var newestFirst: [Line] { lines.withLock { $0.reversed() } }

    /// `logger` with every line at warning and above also kept here.
    func teeing(_ logger: Logger) -> Logger {
        var logger = logger
        logger.handler = MultiplexLogHandler([logger.handler, RecentLogHandler(lines: self)])
        return logger
    }
}

/// The log handler that keeps lines in a ``RecentLogLines``.
struct RecentLogHandler: LogHandler {
    let lines: RecentLogLines
    var logLevel: Logger.Level = .warning
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        guard event.level >= logLevel else { return }
        let merged = metadata.merging(event.metadata ?? [:]) { $1 }
        let pairs = merged.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        lines.add(.init(time: Date(), level: event.level.rawValue, message: "\(event.message)", metadata: pairs))
    }
}
