import Foundation
import XMPPCore

/// What can go wrong with an HTTP file upload (XEP-0363) or its download.
public enum HTTPUploadError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The account's server offers no upload service (nothing in its disco#items announces `urn:xmpp:http:upload:0`).
    case noUploadService
    /// The file is larger than the service takes; `maxFileSize` is its limit in bytes, when it said.
    case fileTooLarge(size: Int64, maxFileSize: Int64?)
    /// The service refused for now (`resource-constraint`): the account's quota is used up, or it holds too many
    /// unused slots. The text is the server's explanation, if any.
    case quotaReached(String?)
    /// The service does not let this account upload (`forbidden` or `not-allowed`).
    case notAllowed(String?)
    /// The service refused the slot request for another reason.
    case refused(StanzaError)
    /// The HTTP server answered with this status instead of accepting the upload (or serving the download), with the
    /// start of its explanation.
    case httpStatus(Int, String)
    /// The connection to the HTTP server failed: it could not be opened, TLS failed, or it broke off.
    case transferFailed(FailureCause)
    /// The local file could not be read (or, for a download, written).
    case cannotReadFile(String)
    /// The service answered the slot request with something unusable.
    case invalidSlot(String)

    public var description: String {
        switch self {
        case .noUploadService: "the server offers no HTTP upload service"
        case .fileTooLarge(let size, let max):
            "the file is too large (\(size) bytes)" + (max.map { "; the upload service takes at most \($0) bytes" } ?? "")
        case .quotaReached(let text): "the upload service refused for now: " + (text ?? "quota reached")
        case .notAllowed(let text): "the upload service does not let this account upload" + (text.map { ": \($0)" } ?? "")
        case .refused(let error): "the upload service refused: \(error)"
        case .httpStatus(let status, let text): "the HTTP server answered \(status)" + (text.isEmpty ? "" : ": \(text)")
        case .transferFailed(let cause): "the transfer failed: \(cause)"
        case .cannotReadFile(let what): "cannot use the file: \(what)"
        case .invalidSlot(let what): "the upload service's slot is unusable: \(what)"
        }
    }
}

/// An upload slot (XEP-0363 §4): where to PUT the file, the headers to send with it, and the URL it will be served at.
public struct UploadSlot: Sendable, Hashable {
    /// Where the file goes (HTTP PUT).
    public var putURL: URL
    /// Where it can be downloaded once uploaded: the URL to share.
    public var getURL: URL
    /// Headers the PUT must carry, as the service asked; only those XEP-0363 allows (`Authorization`, `Cookie`,
    /// `Expires`), without line breaks.
    public var headers: [String: String]

    /// The header names a slot may ask for (XEP-0363 §4).
    public static let allowedHeaders: Set<String> = ["authorization", "cookie", "expires"]

    /// Reads a `<slot/>`; `nil` without both URLs.
    init?(element: Element) {
        let namespace = HTTPUploadModule.namespace
        guard element.name == "slot", let put = element.child("put", namespace: namespace),
              let get = element.child("get", namespace: namespace),
              let putURL = put.attribute("url").flatMap(URL.init(string:)), let getURL = get.attribute("url").flatMap(URL.init(string:))
        else { return nil }
        self.putURL = putURL
        self.getURL = getURL
        var headers: [String: String] = [:]
        for header in put.children("header", namespace: namespace) {
            guard let name = header.attribute("name"), Self.allowedHeaders.contains(name.lowercased()) else { continue }
            headers[name] = header.text.filter { $0 != "\r" && $0 != "\n" }
        }
        self.headers = headers
    }

    /// Creates a slot.
    public init(putURL: URL, getURL: URL, headers: [String: String] = [:]) {
        self.putURL = putURL
        self.getURL = getURL
        self.headers = headers
    }
}

/// The upload service of the account's server, as service discovery described it.
public struct UploadService: Sendable, Hashable {
    /// The service's address, such as `upload.example.com`.
    public var jid: JID
    /// The largest file it takes, in bytes, when it says (XEP-0363 §3, the `max-file-size` field of its disco#info form).
    public var maxFileSize: Int64?
}

/// How far a transfer has come.
public struct TransferProgress: Sendable, Hashable {
    /// Bytes sent (or received) so far.
    public var completed: Int64
    /// Bytes in all; `nil` for a download whose server did not say.
    public var total: Int64?

    /// Creates a progress report.
    public init(completed: Int64, total: Int64?) {
        self.completed = completed
        self.total = total
    }

    /// The share done, from 0 to 1, when the total is known.
    public var fraction: Double? {
        guard let total else { return nil }
        return total == 0 ? 1 : Double(completed) / Double(total)
    }
}

/// A transfer under way (it starts when created): its progress as it happens, and its outcome. Awaiting ``value`` from
/// a task that is then cancelled cancels the transfer too (its connection closes), as does ``cancel()``. A transfer on
/// which nothing moves for the configuration's ``XMPPClient/Configuration/requestTimeout`` fails with
/// ``HTTPUploadError/transferFailed(_:)`` (kind ``FailureCause/Kind/timedOut``).
public final class FileTransfer<Outcome: Sendable>: Sendable {
    /// The progress, from the first chunk to the last; it ends when the transfer does (successfully or not).
    public let progress: AsyncStream<TransferProgress>
    private let task: Task<Outcome, any Error>

    init(_ work: @escaping @Sendable (@escaping @Sendable (TransferProgress) -> Void) async throws -> Outcome) {
        let (stream, continuation) = AsyncStream.makeStream(of: TransferProgress.self, bufferingPolicy: .bufferingNewest(64))
        progress = stream
        task = Task {
            defer { continuation.finish() }
            return try await work { continuation.yield($0) }
        }
    }

    /// The outcome: for an upload, the URL the file is served at.
    /// - Throws: ``HTTPUploadError``, or `CancellationError` when the transfer was cancelled.
    public var value: Outcome {
        get async throws {
            try await withTaskCancellationHandler { try await task.value } onCancel: { [task] in task.cancel() }
        }
    }

    /// Stops the transfer: its connection closes, and a server keeps nothing of an upload cut short.
    public func cancel() {
        task.cancel()
    }
}
