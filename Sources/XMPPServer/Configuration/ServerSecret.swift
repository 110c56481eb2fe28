import Foundation

/// The server's secret, kept in the data directory (`xmppd.secret`, mode 0600) so it survives restarts: the
/// decoy SCRAM salts of names without an account derive from it, and a salt that changed with every restart
/// would tell them apart from real accounts' salts, which do not.
enum ServerSecret {
    /// The secret in `directory`, created on first use.
    static func load(in directory: String) throws -> [UInt8] {
        let path = "\(directory)/xmppd.secret"
        if let existing = FileManager.default.contents(atPath: path) {
            // A damaged secret is not silently replaced: new decoy salts would tell unknown names from accounts.
            guard existing.count == 32 else { throw ServerSecretError.damaged(path) }
            return Array(existing)
        }
        let secret = (0..<32).map { _ in UInt8.random(in: 0...255) }
        try PrivateFile.write(secret, to: path)
        return secret
    }
}

/// Why the server's secret cannot be used.
enum ServerSecretError: Error, CustomStringConvertible {
    /// The file exists but is not 32 bytes.
    case damaged(String)

    var description: String {
        switch self {
        case .damaged(let path): "\(path) is damaged (not 32 bytes); restore it from a backup, or delete it to make a new one"
        }
    }
}
