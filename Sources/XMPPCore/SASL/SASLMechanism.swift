/// The SASL mechanisms SwiftXMPP implements, by their IANA names.
public enum SASLMechanism: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// RFC 4616. Sends the password itself: only over TLS.
    case plain = "PLAIN"
    /// RFC 5802 with SHA-1.
    case scramSHA1 = "SCRAM-SHA-1"
    /// RFC 5802 with SHA-1 and channel binding.
    case scramSHA1Plus = "SCRAM-SHA-1-PLUS"
    /// RFC 7677.
    case scramSHA256 = "SCRAM-SHA-256"
    /// RFC 7677 with channel binding.
    case scramSHA256Plus = "SCRAM-SHA-256-PLUS"
    /// SCRAM with SHA-512 (draft-melnikov-scram-sha-512).
    case scramSHA512 = "SCRAM-SHA-512"
    /// SCRAM with SHA-512 and channel binding.
    case scramSHA512Plus = "SCRAM-SHA-512-PLUS"

    /// The hash of a SCRAM mechanism, or `nil` for PLAIN.
    public var scramHash: SCRAMHash? {
        switch self {
        case .plain: return nil
        case .scramSHA1, .scramSHA1Plus: return .sha1
        case .scramSHA256, .scramSHA256Plus: return .sha256
        case .scramSHA512, .scramSHA512Plus: return .sha512
        }
    }

    /// Whether this is a -PLUS variant that binds the authentication to the TLS channel.
    public var usesChannelBinding: Bool {
        switch self {
        case .scramSHA1Plus, .scramSHA256Plus, .scramSHA512Plus: return true
        default: return false
        }
    }

    /// Client preference, strongest first: a client picks the first one the server offers.
    public static let preferenceOrder: [SASLMechanism] = [
        .scramSHA512Plus, .scramSHA256Plus, .scramSHA1Plus, .scramSHA512, .scramSHA256, .scramSHA1, .plain,
    ]

    public var description: String { rawValue }
}

/// TLS channel-binding data for the SCRAM -PLUS mechanisms (RFC 5929, RFC 9266).
public struct ChannelBinding: Sendable, Hashable {
    /// The channel-binding types in use with XMPP.
    public enum BindingType: String, Sendable, Hashable, CaseIterable {
        /// RFC 9266: keying material exported from TLS 1.3.
        case tlsExporter = "tls-exporter"
        /// RFC 5929: the hash of the server's certificate.
        case tlsServerEndPoint = "tls-server-end-point"
    }

    /// The type of binding.
    public var type: BindingType
    /// The binding data for this connection.
    public var data: [UInt8]

    /// Creates channel-binding data.
    public init(type: BindingType, data: [UInt8]) {
        self.type = type
        self.data = data
    }
}
