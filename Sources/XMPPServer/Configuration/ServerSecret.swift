import Foundation

/// The server's secret, kept in the data directory (`xmppd.secret`, mode 0600) so it survives restarts: the
/// decoy SCRAM salts of names without an account derive from it, and a salt that changed with every restart
/// would tell them apart from real accounts' salts, which do not.
enum ServerSecret {
    /// The secret in `directory`, created on first use.
    static func load(in directory: String) throws -> [UInt8] {
        let path = "\(directory)/xmppd.secret"
        if let existing = FileManager.default.contents(atPath: path), existing.count == 32 {
            return Array(existing)
        }
        let secret = (0..<32).map { _ in UInt8.random(in: 0...255) }
        guard FileManager.default.createFile(atPath: path, contents: Data(secret), attributes: [.posixPermissions: 0o600]) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        return secret
    }
}
