import ArgumentParser
import CommandLineSupport
import Foundation
import XMPPClientSQLite
import XMPPCore

/// Where `xmpp` keeps an account's conversations between runs (unread counts, read marks, messages written offline):
/// an SQLite file per account.
struct StoreOptions: ParsableArguments {
    @Option(name: .long, help: "The local message store (default: $XDG_DATA_HOME/xmpp/ACCOUNT.sqlite, or XMPP_STORE).")
    var store: String?

    /// The store for `account`, created with its directory if needed.
    func open(for account: JID) throws -> SQLiteMessageArchive {
        let environment = ProcessInfo.processInfo.environment
        let path: String
        if let store = store ?? environment["XMPP_STORE"].flatMap({ $0.isEmpty ? nil : $0 }) {
            path = store
        } else {
            let base = environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 }
                ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".local/share").path
            path = "\(base)/xmpp/\(account.bare).sqlite"
        }
        do {
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            return try SQLiteMessageArchive(path: path)
        } catch {
            throw ToolFailure("cannot open the local message store \(path)", hint: "give another file with --store FILE", status: 1,
                              detail: "\(error)")
        }
    }
}
