import CommandLineSupport
import XMPPServer

/// Why xmppd could not start, in an operator's words, with the exit statuses of `xmppd --help`.
enum StartupFailure {
    /// A problem in the options, the config file or the certificate.
    static let configuration = ToolFailure.usageStatus
    /// The server cannot run here: a port in use, the data directory not usable.
    static let cannotStart: Int32 = 3

    static func failure(for error: any Error) -> ToolFailure? {
        switch error {
        case let error as ConfigFile.ParseError:
            return ToolFailure("\(error)", hint: "`xmppd --list-options` lists every option with its values (docs/CONFIG.md)",
                               status: configuration)
        case TLSSetupError.cannotWrite(let path):
            return ToolFailure("cannot write the generated key \(path)",
                               hint: "check that the data directory (--data-dir, default ./data) is writable by this user", status: cannotStart)
        case let error as TLSSetupError:
            return ToolFailure("the TLS certificate cannot be used: \(error)",
                               hint: "fix the certificate and private_key settings, or remove both for a generated self-signed one; `xmppctl check --config FILE` lists every problem",
                               status: configuration)
        case let error as HostSetupError:
            return ToolFailure("\(error)", hint: "the domains served are `domain` or `domains` in the config (docs/CONFIG.md)", status: configuration)
        case let error as ServerStartError:
            return ToolFailure("\(error)",
                               hint: error.isPortInUse ? "another server (xmppd, Prosody, ejabberd) is running: stop it, or choose other ports with --c2s-port and --c2s-tls-port" : nil,
                               status: cannotStart)
        default:
            // Storage and the data directory: SQLite, file permissions, the server secret.
            return ToolFailure("cannot start: \(error)", hint: "check that the data directory (--data-dir, default ./data) is writable by this user",
                               status: cannotStart, detail: String(reflecting: error))
        }
    }
}
