import CommandLineSupport
import Foundation
import XMPPClient
import XMPPCore

/// The exit statuses of `xmpp` (the table in the README and `xmpp --help`).
enum ExitStatus {
    /// Usage: an unknown option, a missing argument or credential, a malformed JID.
    static let usage = ToolFailure.usageStatus
    /// Authentication failed: wrong password, no such account, account disabled.
    static let authentication: Int32 = 2
    /// No connection: the server is not running or not reachable, TLS or the certificate failed, the stream broke.
    static let connection: Int32 = 3
    /// Refused by the server: registration closed or the name taken, a request answered with an error, a domain the
    /// server does not serve.
    static let refused: Int32 = 4
    /// No answer in time.
    static let timeout: Int32 = 5
}

/// How `xmpp` tells a person what went wrong: every library error as one line in plain words, a hint when there is
/// a likely fix, and the exit status.
enum ErrorPresentation {
    static func failure(for error: any Error) -> ToolFailure? {
        if let error = error as? PubSubError { return pubSubFailure(error) }
        if let error = error as? HTTPUploadError { return uploadFailure(error) }
        if let error = error as? FileTransferError { return transferFailure(error) }
        guard let error = error as? XMPPClientError else { return nil }
        let detail = "\(error)"
        switch error {
        case .authenticationFailed(let sasl):
            return authenticationFailure(sasl, detail: detail)
        case .connectionFailed(let cause):
            return ToolFailure("cannot connect: \(cause.summary)", hint: connectionHint(cause.kind), status: ExitStatus.connection,
                               detail: cause.underlying)
        case .tlsFailed(let cause):
            return ToolFailure("TLS failed: \(cause.summary)", hint: tlsHint(cause.kind), status: ExitStatus.connection,
                               detail: cause.underlying)
        case .registrationFailed(let stanzaError):
            return registrationFailure(stanzaError, detail: detail)
        case .streamError(let streamError):
            return streamFailure(streamError)
        case .negotiationFailed(let negotiation):
            return ToolFailure("the server and this client could not agree on how to log in", status: ExitStatus.connection,
                               detail: "\(negotiation)")
        case .connectionLost(let cause):
            return ToolFailure("the connection was lost", hint: "try again; add --verbose to see why",
                               status: ExitStatus.connection, detail: cause)
        case .stanzaError(let stanzaError):
            return ToolFailure("the server refused: \(words(stanzaError.condition.rawValue))" + (stanzaError.text.map { " (\($0))" } ?? ""),
                               status: ExitStatus.refused, detail: detail)
        case .notConnected:
            return ToolFailure("not connected", status: ExitStatus.connection)
        case .unexpectedResponse(let what):
            return ToolFailure("the server answered something unexpected: \(what)", status: ExitStatus.refused)
        case .timeout:
            return ToolFailure("no answer in time", hint: "the server may be overloaded or unreachable; give more seconds with --timeout",
                               status: ExitStatus.timeout)
        }
    }

    private static func uploadFailure(_ error: HTTPUploadError) -> ToolFailure {
        switch error {
        case .noUploadService:
            return ToolFailure("the server has no HTTP upload service", hint: "ask its administrator to turn on XEP-0363 uploads",
                               status: ExitStatus.refused)
        case .fileTooLarge(let size, let max):
            return ToolFailure("the file is too large (\(size) bytes)", hint: max.map { "the server takes at most \($0) bytes" },
                               status: ExitStatus.refused)
        case .quotaReached(let text):
            return ToolFailure("the upload service refused for now: " + (text ?? "the account's quota is used up"),
                               hint: "try again later, or wait for older uploads to expire", status: ExitStatus.refused)
        case .notAllowed(let text):
            return ToolFailure("the upload service does not let this account upload", status: ExitStatus.refused, detail: text)
        case .refused(let stanzaError):
            return ToolFailure("the upload service refused: \(words(stanzaError.condition.rawValue))" + (stanzaError.text.map { " (\($0))" } ?? ""),
                               status: ExitStatus.refused, detail: "\(stanzaError)")
        case .invalidSlot(let what):
            return ToolFailure("the upload service answered something unexpected: \(what)", status: ExitStatus.refused)
        case .httpStatus(let status, let text):
            return ToolFailure("the HTTP server refused the upload with status \(status)" + (text.isEmpty ? "" : " (\(text))"),
                               status: ExitStatus.refused)
        case .transferFailed(let cause):
            return ToolFailure("the upload failed: \(cause.summary)", hint: cause.kind == .untrustedCertificate ? tlsHint(cause.kind) : nil,
                               status: ExitStatus.connection, detail: cause.underlying)
        case .cannotReadFile(let what):
            return ToolFailure("cannot use the file: \(what)", status: ExitStatus.usage)
        }
    }

    private static func transferFailure(_ error: FileTransferError) -> ToolFailure {
        switch error {
        case .declined, .cancelledByPeer:
            return ToolFailure("\(error)", status: ExitStatus.refused)
        case .noCommonMethod:
            return ToolFailure("\(error)", hint: "the server may have no SOCKS5 proxy and the peer no in-band bytestreams; try --method upload",
                               status: ExitStatus.refused)
        case .cannotAccessFile:
            return ToolFailure("\(error)", status: ExitStatus.usage)
        case .transferFailed, .hashMismatch, .sizeMismatch:
            return ToolFailure("\(error)", status: ExitStatus.connection)
        }
    }

    private static func pubSubFailure(_ error: PubSubError) -> ToolFailure {
        let detail = "\(error.stanzaError)"
        switch error.reason {
        case .itemNotFound:
            return ToolFailure("the server refused: no such node or item", status: ExitStatus.refused, detail: detail)
        case .conflict:
            return ToolFailure("the server refused: the node exists already", status: ExitStatus.refused, detail: detail)
        case .preconditionNotMet:
            return ToolFailure("the server refused: the node's configuration does not match the publish options",
                               hint: "publish without --option, or change the node's configuration", status: ExitStatus.refused, detail: detail)
        case .unsupported(let feature):
            return ToolFailure("the server refused: not supported" + (feature.map { " (\($0))" } ?? ""),
                               hint: "check --service: is it a pubsub service?", status: ExitStatus.refused, detail: detail)
        case .forbidden, .notAuthorized, .badRequest, .other:
            let condition = error.condition.map { " (\(words($0.rawValue)))" } ?? ""
            return ToolFailure("the server refused: \(words(error.stanzaError.condition.rawValue))\(condition)",
                               status: ExitStatus.refused, detail: detail)
        }
    }

    private static func authenticationFailure(_ error: SASLError, detail: String) -> ToolFailure {
        switch error.condition {
        case .notAuthorized:
            return ToolFailure("authentication failed: wrong password, or no such account",
                               hint: "check --jid and --password (or XMPP_JID and XMPP_PASSWORD); `xmpp register` creates an account",
                               status: ExitStatus.authentication, detail: detail)
        case .accountDisabled:
            return ToolFailure("authentication failed: the account is disabled", hint: "ask the server's administrator",
                               status: ExitStatus.authentication, detail: detail)
        case .temporaryAuthFailure:
            return ToolFailure("authentication failed for now (too many attempts, or the server is busy)",
                               hint: "wait a minute and try again", status: ExitStatus.authentication, detail: detail)
        default:
            return ToolFailure("authentication failed: \(words(error.condition.rawValue))" + (error.text.map { " (\($0))" } ?? ""),
                               status: ExitStatus.authentication, detail: detail)
        }
    }

    private static func registrationFailure(_ error: StanzaError, detail: String) -> ToolFailure {
        switch error.condition {
        case .conflict:
            return ToolFailure("registration failed: the username is taken", hint: "choose another --jid, or log in with this one",
                               status: ExitStatus.refused, detail: detail)
        case .notAllowed, .forbidden, .registrationRequired, .notAuthorized:
            return ToolFailure("registration is disabled on this server",
                               hint: "an administrator creates the account (`xmppctl adduser NAME`), or starts xmppd with --registration open",
                               status: ExitStatus.refused, detail: detail)
        case .resourceConstraint, .policyViolation:
            return ToolFailure("registration refused: too many new accounts from this address", hint: "try again later",
                               status: ExitStatus.refused, detail: detail)
        default:
            return ToolFailure("registration failed: \(words(error.condition.rawValue))" + (error.text.map { " (\($0))" } ?? ""),
                               status: ExitStatus.refused, detail: detail)
        }
    }

    private static func streamFailure(_ error: StreamError) -> ToolFailure {
        let text = error.text.map { " (\($0))" } ?? ""
        switch error.condition {
        case .hostUnknown:
            return ToolFailure("the server does not serve the JID's domain" + text,
                               hint: "check the domain of --jid (xmppd serves the one given with --domain, localhost by default)",
                               status: ExitStatus.refused, detail: "\(error)")
        case .notWellFormed, .badFormat, .invalidXML, .unsupportedEncoding:
            return ToolFailure("the server did not speak XMPP as expected" + text,
                               hint: "if this is a direct-TLS port (5223), add --direct-tls", status: ExitStatus.connection,
                               detail: "\(error)")
        case .conflict:
            return ToolFailure("another login with the same resource replaced this session", status: ExitStatus.connection)
        case .systemShutdown:
            return ToolFailure("the server is shutting down", hint: "try again once it is back", status: ExitStatus.connection)
        case .policyViolation, .notAuthorized:
            return ToolFailure("the server ended the session: \(words(error.condition.rawValue))" + text,
                               status: ExitStatus.refused, detail: "\(error)")
        default:
            return ToolFailure("the server ended the session: \(words(error.condition.rawValue))" + text,
                               status: ExitStatus.connection, detail: "\(error)")
        }
    }

    private static func connectionHint(_ kind: FailureCause.Kind) -> String? {
        switch kind {
        case .refused: "is xmppd running? Start it with `swift run xmppd`, or give the right --server HOST:PORT"
        case .unknownHost: "check the domain of --jid, or give --server HOST:PORT"
        case .unreachable: "check the network, or give --server HOST:PORT"
        case .timedOut: "the server may be down or behind a firewall; give more seconds with --timeout"
        default: nil
        }
    }

    private static func tlsHint(_ kind: FailureCause.Kind) -> String? {
        switch kind {
        case .untrustedCertificate:
            "trust the server's certificate with --ca-file FILE (xmppd's generated one is data/localhost.crt), or for a local test only, --insecure"
        case .certificateNameMismatch:
            "the certificate names another domain: use a JID on that domain, or trust it with --ca-file FILE"
        case .localConfiguration: "check the file given with --ca-file"
        case .handshake: "check the port: 5222 speaks STARTTLS, 5223 direct TLS (--direct-tls)"
        default: nil
        }
    }

    /// `remote-server-not-found` → "remote server not found".
    private static func words(_ condition: String) -> String {
        condition.replacingOccurrences(of: "-", with: " ")
    }
}
