import ArgumentParser
import CommandLineSupport
import Foundation
import XMPPClient
import XMPPCore

/// The options every command shares: who logs in, where, and which certificate is trusted.
struct ConnectionOptions: ParsableArguments {
    @Option(name: .long, help: "The account's JID (or XMPP_JID).")
    var jid: String?

    @Option(name: .long, help: "The password (or XMPP_PASSWORD).")
    var password: String?

    @Option(name: .long, help: "An account of \(AccountFile.displayPath) (or XMPP_ACCOUNTS_FILE) to use instead of --jid/--password.")
    var account: String?

    @Option(name: .long, help: "HOST[:PORT] to connect to instead of looking up SRV records of the JID's domain.")
    var server: String?

    @Option(name: .long, help: "Connect over XMPP over WebSocket (RFC 7395) to this wss:// (or, unencrypted, ws://) URL.")
    var websocket: String?

    @Flag(name: .long, help: "Start TLS at once (XEP-0368) instead of STARTTLS; the port defaults to 5223.")
    var directTLS = false

    @Option(name: .long, help: "A PEM file of CA certificates (or a self-signed server certificate) to trust.")
    var caFile: String?

    @Flag(name: .long, help: "Do not verify the server's certificate (local tests only).")
    var insecure = false

    @Option(name: .long, help: "Seconds to wait for the connection and each answer.")
    var timeout: Int = 20

    @Flag(name: .long, help: "On failure, show the underlying error too.")
    var verbose = false

    /// Where the password came from, so `xmpp passwd` can say what else must change.
    enum PasswordSource: Equatable {
        case option, environment, accountFile(String)
    }

    /// Who logs in, and the account file's settings. The account file is read when --account names an account, or
    /// when neither --jid nor XMPP_JID is given (then `[default]`, or the only account); its values come after the
    /// command line's and before the environment's (--password, then the file's password, then XMPP_PASSWORD).
    struct Credentials {
        var jid: JID
        var password: String
        var passwordSource: PasswordSource
        var account: AccountFile.Account?
    }

    /// The credentials these options, the environment and the account file give.
    func credentials() throws -> Credentials {
        let environment = ProcessInfo.processInfo.environment
        let fromFile = account != nil || (jid == nil && environment["XMPP_JID"] == nil) ? try AccountFile.load()?.account(named: account) : nil
        if let account, fromFile == nil { throw ToolFailure.usage("no account file at \(AccountFile.path) for --account \(account)") }
        guard let rawJID = jid ?? fromFile?.values["jid"] ?? environment["XMPP_JID"] else {
            throw ToolFailure.usage("who logs in? Give --jid or set XMPP_JID",
                                    hint: "or keep the account in \(AccountFile.displayPath) (see `xmpp --help`)")
        }
        let source: PasswordSource
        let secret: String
        if let password {
            (secret, source) = (password, .option)
        } else if let filed = fromFile?.values["password"], let name = fromFile?.name {
            (secret, source) = (filed, .accountFile(name))
        } else if let exported = environment["XMPP_PASSWORD"] {
            (secret, source) = (exported, .environment)
        } else {
            throw ToolFailure.usage("no password: give --password or set XMPP_PASSWORD")
        }
        guard let account = JID(validating: rawJID), account.localpart != nil else {
            throw ToolFailure.usage("not a user JID: \(rawJID)", hint: "a user JID looks like alice@example.com")
        }
        return Credentials(jid: account, password: secret, passwordSource: source, account: fromFile)
    }

    /// The client configuration these options describe.
    func configuration(sendsInitialPresence: Bool) throws -> XMPPClient.Configuration {
        let credentials = try credentials()
        let filed = credentials.account?.values ?? [:]
        var configuration = XMPPClient.Configuration(jid: credentials.jid, password: credentials.password,
                                                     connectTimeout: .seconds(timeout), requestTimeout: .seconds(timeout),
                                                     sendsInitialPresence: sendsInitialPresence)
        let directTLS = directTLS || filed["direct-tls"] == "true"
        if let server = server ?? filed["server"] {
            let (host, port) = try Self.hostAndPort(server, defaultPort: directTLS ? 5223 : 5222)
            configuration.server = .host(host, port: port, directTLS: directTLS)
        }
        if let text = websocket ?? filed["websocket"] {
            guard let url = URL(string: text), ["ws", "wss"].contains(url.scheme?.lowercased() ?? ""), url.host != nil else {
                throw ValidationError("--websocket needs a ws:// or wss:// URL, got \(text)")
            }
            configuration.server = .webSocket(url)
            if url.scheme?.lowercased() == "ws" { configuration.tls = .disabled }
        }
        if insecure {
            configuration.trust = .acceptAnyCertificate
        } else if let caFile = caFile ?? filed["ca-file"] {
            configuration.trust = .caFile(caFile)
        }
        return configuration
    }

    /// Splits `host`, `host:port` or `[v6]:port`.
    static func hostAndPort(_ text: String, defaultPort: Int) throws -> (String, Int) {
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard rest.isEmpty || rest.hasPrefix(":"), let port = rest.isEmpty ? defaultPort : Int(rest.dropFirst()) else {
                throw ToolFailure.usage("bad --server \(text)", hint: "write HOST, HOST:PORT or [IPv6]:PORT")
            }
            return (host, port)
        }
        let parts = text.split(separator: ":")
        guard parts.count == 1 || parts.count == 2, let port = parts.count == 2 ? Int(parts[1]) : defaultPort else {
            throw ToolFailure.usage("bad --server \(text)", hint: "write HOST, HOST:PORT or [IPv6]:PORT")
        }
        return (String(parts[0]), port)
    }
}
