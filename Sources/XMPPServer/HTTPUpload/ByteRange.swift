import Foundation

/// One byte range of an HTTP `Range: bytes=…` header (RFC 9110 §14.1.2), resolved against a file's size.
enum ByteRange: Equatable {
    /// Serve the whole file (no header, or one this server does not honour, such as several ranges).
    case whole
    /// Serve `lower...upper`.
    case partial(lower: Int, upper: Int)
    /// The range lies outside the file: 416.
    case unsatisfiable

    init(header: String?, size: Int) {
        guard let header else { self = .whole; return }
        let trimmed = header.trimmingCharacters(in: .whitespaces)
        guard trimmed.lowercased().hasPrefix("bytes="), !trimmed.contains(",") else { self = .whole; return }
        let spec = trimmed.dropFirst("bytes=".count)
        let parts = spec.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        guard parts.count == 2 else { self = .whole; return }
        if parts[0].isEmpty {
            // bytes=-N: the last N bytes.
            guard let count = Int(parts[1]), count >= 0 else { self = .whole; return }
            guard count > 0, size > 0 else { self = .unsatisfiable; return }
            self = .partial(lower: max(0, size - count), upper: size - 1)
            return
        }
        guard let lower = Int(parts[0]), lower >= 0 else { self = .whole; return }
        guard lower < size else { self = .unsatisfiable; return }
        if parts[1].isEmpty {
            self = .partial(lower: lower, upper: size - 1)
        } else if let upper = Int(parts[1]), upper >= lower {
            self = .partial(lower: lower, upper: min(upper, size - 1))
        } else {
            self = .whole
        }
    }
}
