/// A failure as the person at the terminal reads it: what happened in plain words, what to do next, and the exit
/// status scripts test. Tools turn every error into one of these in one place, never at the call sites.
public struct ToolFailure: Error, Sendable, Hashable {
    /// One line: what happened.
    public var message: String
    /// The likely fix, printed after `hint:`, when there is one.
    public var hint: String?
    /// The process's exit status.
    public var status: Int32
    /// The underlying error as a library reported it; printed only with `--verbose`.
    public var detail: String?

    /// Creates a failure.
    public init(_ message: String, hint: String? = nil, status: Int32, detail: String? = nil) {
        self.message = message
        self.hint = hint
        self.status = status
        self.detail = detail
    }

    /// The exit status of a usage error (an unknown option, a missing argument, a malformed JID) in every tool.
    public static let usageStatus: Int32 = 1

    /// A usage error found after parsing (a value the parser could not check).
    public static func usage(_ message: String, hint: String? = nil) -> ToolFailure {
        ToolFailure(message, hint: hint, status: usageStatus)
    }
}
