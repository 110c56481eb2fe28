/// Why a connection or its TLS layer failed, in a form an app can act on: a ``Kind`` to branch on (an untrusted
/// certificate needs the user's decision, a refused connection a retry later), plain words to show, and the
/// underlying library's report for logs.
///
/// It can be written as a string (`"no address for example.com"`), which gives the kind ``Kind/other``.
public struct FailureCause: Sendable, Hashable, CustomStringConvertible, ExpressibleByStringInterpolation {
    /// The classes of failure an app or a tool treats differently.
    public enum Kind: String, Sendable, Hashable {
        /// Nothing listens there: the server is down or the port is wrong.
        case refused
        /// The host's name has no address (DNS).
        case unknownHost
        /// The network, or the host, cannot be reached.
        case unreachable
        /// The connection was not set up in time.
        case timedOut
        /// The server's certificate is not signed by a trusted authority (self-signed, unknown CA) or is expired.
        case untrustedCertificate
        /// The certificate is trusted but names another domain.
        case certificateNameMismatch
        /// The peer did not speak TLS, or the handshake failed for another reason.
        case handshake
        /// The client's own TLS settings cannot be used: a CA file that is missing or holds no certificate.
        case localConfiguration
        /// A failure without a more specific class.
        case other
    }

    /// The class of the failure.
    public var kind: Kind
    /// What happened, in plain words.
    public var summary: String
    /// The underlying error as the networking library reported it, when it says more than ``summary``.
    public var underlying: String?

    /// Creates a cause.
    public init(_ kind: Kind, _ summary: String, underlying: String? = nil) {
        self.kind = kind
        self.summary = summary
        self.underlying = underlying
    }

    /// A cause of kind ``Kind/other`` with `value` as its summary.
    public init(stringLiteral value: String) {
        self.init(.other, value)
    }

    public var description: String { summary }
}
