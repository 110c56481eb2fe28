import CommandLineSupport
import Foundation

/// Accounts kept in a small file, so scripts and people need not export passwords:
///
///     # ~/.config/xmpp/accounts (mode 600)
///     [work]
///     jid = alice@example.com
///     password = secret
///     server = 127.0.0.1:5222
///     ca-file = /srv/xmppd/data/localhost.crt
///
/// `--account work` picks a section; without --account, --jid or XMPP_JID, the section `[default]` is used, or the
/// only one. Keys: jid, password, server, ca-file, direct-tls (true/false). `XMPP_ACCOUNTS_FILE` names another file.
struct AccountFile {
    /// One section.
    struct Account: Equatable {
        var name: String
        var values: [String: String] = [:]
    }

    static let keys: Set<String> = ["jid", "password", "server", "ca-file", "direct-tls"]

    var accounts: [Account]

    /// The file's path: XMPP_ACCOUNTS_FILE, else $XDG_CONFIG_HOME/xmpp/accounts, else ~/.config/xmpp/accounts.
    static var path: String {
        let environment = ProcessInfo.processInfo.environment
        if let file = environment["XMPP_ACCOUNTS_FILE"], !file.isEmpty { return file }
        let base = environment["XDG_CONFIG_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".config").path
        return base + "/xmpp/accounts"
    }

    /// The path as the help texts show it.
    static let displayPath = "~/.config/xmpp/accounts"

    /// Parses the text of an accounts file; `path` names it in errors.
    init(text: String, path: String) throws {
        var accounts: [Account] = []
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespaces)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let place = "\(path):\(index + 1)"
            if line.hasPrefix("[") {
                guard line.hasSuffix("]"), line.count > 2 else { throw ToolFailure.usage("\(place): a section is written [name]") }
                accounts.append(Account(name: String(line.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)))
                continue
            }
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { throw ToolFailure.usage("\(place): expected key = value") }
            guard Self.keys.contains(parts[0]) else {
                throw ToolFailure.usage("\(place): unknown key \(parts[0])", hint: "the keys are \(Self.keys.sorted().joined(separator: ", "))")
            }
            guard !accounts.isEmpty else { throw ToolFailure.usage("\(place): \(parts[0]) comes before any [account] section") }
            accounts[accounts.count - 1].values[parts[0]] = parts[1]
        }
        self.accounts = accounts
    }

    /// The file's accounts, or nil when there is no file.
    static func load() throws -> AccountFile? {
        let path = Self.path
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let permissions = (try? FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int) ?? 0
        if permissions & 0o077 != 0 {
            Feedback.warn("warning: \(path) can be read by other users; protect its passwords with: chmod 600 \(path)")
        }
        return try AccountFile(text: String(decoding: data, as: UTF8.self), path: path)
    }

    /// The account called `name`, or, without a name, `[default]` or the only account.
    func account(named name: String?) throws -> Account? {
        if let name {
            guard let account = accounts.first(where: { $0.name == name }) else {
                throw ToolFailure.usage("no account [\(name)] in \(Self.path)",
                                        hint: accounts.isEmpty ? nil : "the accounts are \(accounts.map(\.name).joined(separator: ", "))")
            }
            return account
        }
        return accounts.first { $0.name == "default" } ?? (accounts.count == 1 ? accounts[0] : nil)
    }

    /// Replaces the password of account `name` in the file, keeping everything else as written.
    static func updatePassword(of name: String, to password: String) throws {
        let path = Self.path
        let lines = String(decoding: FileManager.default.contents(atPath: path) ?? Data(), as: UTF8.self)
            .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var result: [String] = []
        var section: String?
        var replaced = false
        for line in lines {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("[") && trimmed.hasSuffix("]") {
                if section == name && !replaced { result.append("password = \(password)"); replaced = true }
                section = String(trimmed.dropFirst().dropLast()).trimmingCharacters(in: .whitespaces)
            } else if section == name, trimmed.split(separator: "=", maxSplits: 1).first?.trimmingCharacters(in: .whitespaces) == "password" {
                result.append("password = \(password)")
                replaced = true
                continue
            }
            result.append(line)
        }
        if section == name && !replaced { result.append("password = \(password)") }
        try writePrivately(Array(result.joined(separator: "\n").utf8), to: path)
    }

    /// Whether `password` reads back the same from the file: values are trimmed and end at the line's end.
    static func canStore(_ password: String) -> Bool {
        !password.contains(where: \.isNewline) && password == password.trimmingCharacters(in: .whitespaces)
    }

    /// Replaces the file at `path` (following a symbolic link to the real file) with `bytes`, readable only by this
    /// user from the first byte: a new file made with mode 0600, flushed, renamed over the old one.
    private static func writePrivately(_ bytes: [UInt8], to path: String) throws {
        let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)).map {
            $0.hasPrefix("/") ? $0 : (path as NSString).deletingLastPathComponent + "/" + $0
        } ?? path
        let temporary = target + ".new"
        unlink(temporary)
        let descriptor = open(temporary, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o600)
        var ok = descriptor >= 0
        if ok {
            ok = bytes.withUnsafeBytes { Foundation.write(descriptor, $0.baseAddress, $0.count) } == bytes.count && fsync(descriptor) == 0
            close(descriptor)
            ok = ok && rename(temporary, target) == 0
        }
        guard ok else {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw ToolFailure("cannot update \(target): \(reason)", status: 1)
        }
    }
}
