/// An XMPP address (RFC 7622): `localpart@domainpart/resourcepart`, with the local and resource parts optional.
///
/// A JID is always stored in its normalized form: the localpart through the PRECIS UsernameCaseMapped
/// profile, the resourcepart through OpaqueString, the domainpart lower-cased and NFC-normalized with a
/// trailing dot removed. Equality and hashing therefore compare normalized addresses:
/// `JID("Juliet@Example.COM")` equals `JID("juliet@example.com")`.
///
/// ```swift
/// let jid = try JID("juliet@example.com/balcony")
/// jid.bare            // juliet@example.com
/// jid.resourcepart    // "balcony"
/// ```
public struct JID: Sendable, Hashable, CustomStringConvertible {
    /// The normalized localpart (the user), or `nil` for a domain or domain/resource address.
    public let localpart: String?
    /// The normalized domainpart.
    public let domainpart: String
    /// The normalized resourcepart, or `nil` for a bare JID.
    public let resourcepart: String?

    /// Parses and normalizes a JID.
    /// - Throws: ``JIDError`` when a part is empty, too long, or holds characters its profile forbids.
    public init(_ string: String) throws(JIDError) {
        var rest = Substring(string)
        var resource: Substring?
        if let slash = rest.firstIndex(of: "/") {
            resource = rest[rest.index(after: slash)...]
            rest = rest[..<slash]
        }
        var local: Substring?
        if let at = rest.firstIndex(of: "@") {
            local = rest[..<at]
            rest = rest[rest.index(after: at)...]
        }
        try self.init(localpart: local.map(String.init), domainpart: String(rest), resourcepart: resource.map(String.init))
    }

    /// Builds a JID from its parts, normalizing and validating each.
    /// - Throws: ``JIDError`` as ``init(_:)`` does. An empty string for an optional part is an error;
    ///   pass `nil` to leave it out.
    public init(localpart: String?, domainpart: String, resourcepart: String? = nil) throws(JIDError) {
        self.localpart = try localpart.map { local throws(JIDError) in try PRECIS.usernameCaseMapped(local) }
        self.domainpart = try DomainName.normalize(domainpart)
        self.resourcepart = try resourcepart.map { resource throws(JIDError) in try PRECIS.opaqueString(resource) }
    }

    /// A JID from parts already normalized; used to derive bare JIDs without redoing the work.
    init(normalizedLocalpart: String?, domainpart: String, resourcepart: String?) {
        self.localpart = normalizedLocalpart
        self.domainpart = domainpart
        self.resourcepart = resourcepart
    }

    /// The JID without its resourcepart (`juliet@example.com` for `juliet@example.com/balcony`).
    public var bare: JID {
        resourcepart == nil ? self : JID(normalizedLocalpart: localpart, domainpart: domainpart, resourcepart: nil)
    }

    /// The domain alone, as a JID (`example.com`).
    public var domain: JID { JID(normalizedLocalpart: nil, domainpart: domainpart, resourcepart: nil) }

    /// Whether the JID has no resourcepart.
    public var isBare: Bool { resourcepart == nil }

    /// Whether the JID has a resourcepart.
    public var isFull: Bool { resourcepart != nil }

    /// Whether the JID is a bare domain (no localpart and no resourcepart), such as a server or a component.
    public var isDomain: Bool { localpart == nil && resourcepart == nil }

    /// The same bare JID with another resourcepart.
    /// - Throws: ``JIDError`` when `resource` is not a valid resourcepart.
    public func withResource(_ resource: String) throws(JIDError) -> JID {
        JID(normalizedLocalpart: localpart, domainpart: domainpart, resourcepart: try PRECIS.opaqueString(resource))
    }

    /// The JID as a string in its normalized form.
    public var description: String {
        var result = ""
        if let localpart {
            result += localpart
            result += "@"
        }
        result += domainpart
        if let resourcepart {
            result += "/"
            result += resourcepart
        }
        return result
    }
}

extension JID {
    /// Parses a JID, returning `nil` when it is invalid.
    public init?(validating string: String) {
        guard let jid = try? JID(string) else { return nil }
        self = jid
    }
}

extension JID: Codable {
    /// Decodes a JID from its string form.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        self = try JID(container.decode(String.self))
    }

    /// Encodes the JID as its normalized string.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}

/// Why a string is not a valid JID (RFC 7622). Maps to the stanza error `jid-malformed`.
public enum JIDError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The parts of a JID.
    public enum Part: String, Sendable, Hashable {
        case localpart, domainpart, resourcepart
    }

    /// The part is present but empty (`@example.com`, `example.com/`).
    case empty(Part)
    /// The part is longer than 1023 bytes of UTF-8 (RFC 7622 §3.1).
    case tooLong(Part)
    /// The part contains a character its profile does not allow.
    case invalidCharacter(Part, Unicode.Scalar)
    /// The domainpart is not a valid domain name or IP literal.
    case invalidDomain(String)

    public var description: String {
        switch self {
        case .empty(let part): return "empty \(part.rawValue)"
        case .tooLong(let part): return "\(part.rawValue) longer than 1023 bytes"
        case .invalidCharacter(let part, let scalar):
            return "character U+\(String(scalar.value, radix: 16, uppercase: true)) not allowed in \(part.rawValue)"
        case .invalidDomain(let reason): return "invalid domainpart: \(reason)"
        }
    }
}
