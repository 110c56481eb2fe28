import Foundation

/// Why the server's domains cannot be served as configured.
public enum HostSetupError: Error, CustomStringConvertible {
    /// The database at `path` holds the accounts of `owner`: serving `domain` from it would hand them over (a changed
    /// `domain`, or a reordered `domains` line).
    case databaseOfAnotherDomain(path: String, owner: String, domain: String)
    /// A problem with the configured domains themselves (a duplicate, a domain that is another's service, a
    /// certificate for a domain not served).
    case invalidDomains(String)

    public var description: String {
        switch self {
        case .databaseOfAnotherDomain(let path, let owner, let domain):
            "the database \(path) holds the accounts of \(owner), not of \(domain); to rename the domain on purpose, write \(domain) into \(DomainMarker.path(besides: path))"
        case .invalidDomains(let problem):
            problem
        }
    }
}

/// The file beside a database that names the domain whose accounts it holds (`xmppd.domain`), so that a database is
/// never served under another domain by accident: a `domain` changed in the config, the first two of `domains`
/// swapped, `xmppctl --domain` given the wrong name.
public enum DomainMarker {
    /// The marker's path for the database at `databasePath`.
    public static func path(besides databasePath: String) -> String {
        (databasePath as NSString).deletingLastPathComponent + "/xmppd.domain"
    }

    /// The domain the database at `databasePath` belongs to, if it says.
    public static func owner(of databasePath: String) -> String? {
        (try? String(contentsOfFile: path(besides: databasePath), encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines).lowercased()
    }

    /// Checks that the database at `databasePath` belongs to `domain`, and marks it so when it says nothing yet (a
    /// new database, or one from before markers).
    /// - Throws: ``HostSetupError/databaseOfAnotherDomain(path:owner:domain:)``.
    public static func claim(_ databasePath: String, for domain: String) throws {
        if let owner = owner(of: databasePath), !owner.isEmpty {
            guard owner == domain else { throw HostSetupError.databaseOfAnotherDomain(path: databasePath, owner: owner, domain: domain) }
            return
        }
        try (domain + "\n").write(toFile: path(besides: databasePath), atomically: true, encoding: .utf8)
    }
}
