/// What a tool printed and how it exited, judged as a person would read a failure: the expected status, the
/// phrases that must be there, and none of the library internals (errno, BoringSSL, Foundation error dumps).
public struct ToolOutput: Sendable {
    /// Text that means a library's error leaked to the user.
    public static let internals = ["errno", "BoringSSL", "handshake.cc", "NIOConnectionError", "SingleConnectionFailure",
                                   "NSCocoaErrorDomain", "Code=260", "failedToLoadCertificate", "IOError"]

    /// The exit status.
    public let status: Int32
    /// Standard output and standard error together.
    public let output: String

    /// Wraps what ``runProcess(_:input:timeout:)`` returned.
    public init(_ result: (status: Int32, output: String)) {
        (status, output) = result
    }

    /// What is wrong with this output as a failure report with `status` that says `phrases`; empty when nothing is.
    public func problems(status expected: Int32, saying phrases: [String]) -> [String] {
        var problems: [String] = []
        if status != expected { problems.append("exit status \(status), expected \(expected)") }
        problems += phrases.filter { !output.contains($0) }.map { "missing \"\($0)\"" }
        problems += Self.internals.filter { output.contains($0) }.map { "shows \"\($0)\"" }
        return problems
    }
}
