/// Why the XML stream parser stopped: the stream error condition to send (RFC 6120 §4.9.3) and a reason for logs.
///
/// Once a parser has thrown, it keeps throwing the same error: an XML stream cannot be resynchronised.
public struct XMLStreamError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The stream error condition that describes the fault, such as ``StreamError/Condition/notWellFormed``.
    public var condition: StreamError.Condition
    /// A short human-readable reason, suitable for logs and the stream error's `<text/>`.
    public var reason: String

    /// Creates an error.
    public init(_ condition: StreamError.Condition, _ reason: String) {
        self.condition = condition
        self.reason = reason
    }

    public var description: String { "\(condition.rawValue): \(reason)" }

    static func notWellFormed(_ reason: String) -> XMLStreamError { XMLStreamError(.notWellFormed, reason) }
    static func restricted(_ reason: String) -> XMLStreamError { XMLStreamError(.restrictedXML, reason) }
    static func policy(_ reason: String) -> XMLStreamError { XMLStreamError(.policyViolation, reason) }
}

/// Bounds the XML stream parser enforces so that a hostile peer cannot make it use unbounded memory or time.
///
/// Exceeding any limit gives ``StreamError/Condition/policyViolation`` (RFC 6120 §13.12 item 4).
public struct XMLParserLimits: Sendable, Hashable {
    /// Largest size of one top-level element (stanza or nonza) and of the stream header, in bytes.
    /// Default 262,144 (256 KiB), the same default Prosody uses for client streams.
    public var maxStanzaBytes: Int
    /// Deepest nesting allowed, counting the stream root as depth 1. Default 32.
    public var maxDepth: Int
    /// Most attributes on one element, namespace declarations included. Default 64.
    public var maxAttributes: Int
    /// Longest qualified element or attribute name, in bytes. Default 256.
    public var maxNameBytes: Int
    /// Longest single text run or attribute value, in bytes after entity replacement. Default 131,072.
    public var maxTextBytes: Int

    /// Creates limits; every parameter has the documented default.
    public init(
        maxStanzaBytes: Int = 262_144,
        maxDepth: Int = 32,
        maxAttributes: Int = 64,
        maxNameBytes: Int = 256,
        maxTextBytes: Int = 131_072
    ) {
        self.maxStanzaBytes = maxStanzaBytes
        self.maxDepth = maxDepth
        self.maxAttributes = maxAttributes
        self.maxNameBytes = maxNameBytes
        self.maxTextBytes = maxTextBytes
    }

    /// The defaults for client and server streams.
    public static let `default` = XMLParserLimits()

    /// For reading back what the server stored itself (offline messages, archives): a stanza accepted within the
    /// stream limits may serialize longer than it arrived, and must never fail to come back.
    public static let stored = XMLParserLimits(maxStanzaBytes: 16_777_216, maxDepth: 64, maxAttributes: 128,
                                               maxNameBytes: 1024, maxTextBytes: 16_777_216)
}
