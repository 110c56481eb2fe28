import Foundation
import XMPPCore

/// A file as an offer describes it (XEP-0096's `<file/>`, XEP-0234's `<file/>`).
public struct FileDescription: Sendable, Hashable {
    /// The name the sender gives it (never a path: a receiver keeps only its last component).
    public var name: String
    /// Its size in bytes.
    public var size: Int64
    /// Its MIME type, when given.
    public var mediaType: String?
    /// A description the sender typed.
    public var text: String?
    /// Its SHA-256 (XEP-0300), when the sender computed it: the receiver checks it.
    public var sha256: Data?

    /// Creates a description.
    public init(name: String, size: Int64, mediaType: String? = nil, text: String? = nil, sha256: Data? = nil) {
        self.name = name
        self.size = size
        self.mediaType = mediaType
        self.text = text
        self.sha256 = sha256
    }

    /// The name with anything path-like removed, without control or direction-changing characters, at most 120
    /// characters: safe to create in a download directory and to print. (A name may still be that of an existing file
    /// or directory there: pick a free one, as `xmpp receive-files` does.)
    public var safeName: String {
        let last = name.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
        let cleaned = String(String.UnicodeScalarView(last.unicodeScalars.filter { scalar in
            !(scalar.properties.generalCategory == .control || scalar.properties.generalCategory == .format
              || scalar.properties.isBidiControl)
        }).prefix(120))
        let trimmed = cleaned.trimmingCharacters(in: .whitespaces)
        return trimmed.isEmpty || trimmed.allSatisfy({ $0 == "." }) ? "file" : trimmed
    }
}

/// How a file is offered to a peer.
public enum FileTransferProtocol: String, Sendable, Hashable, CaseIterable {
    /// Jingle file transfer (XEP-0234, with XEP-0260 SOCKS5 or XEP-0261 in-band bytestreams): what modern clients
    /// (Conversations, Gajim, Dino) speak.
    case jingle
    /// Stream initiation (XEP-0095/0096, with XEP-0065 SOCKS5 or XEP-0047 in-band bytestreams): what XMPPFramework,
    /// Spark and older clients speak.
    case streamInitiation = "si"
}

/// How the bytes travel.
public enum BytestreamMethod: String, Sendable, Hashable, CaseIterable {
    /// SOCKS5 bytestreams straight between the clients: the sender listens, the receiver connects (XEP-0065 / XEP-0260
    /// direct candidates); works when the receiver can reach the sender's address.
    case direct
    /// SOCKS5 bytestreams through a proxy (XEP-0065 / XEP-0260).
    case socks5
    /// In-band bytestreams: base64 in IQs through the servers (XEP-0047 / XEP-0261); slow, but always possible.
    case inBand = "ibb"
}

/// A file someone offers this client (``FileTransferModule/offers``): accept it into a file, or decline it.
public struct IncomingFileOffer: Sendable, Hashable {
    /// The sender's full JID.
    public var from: JID
    /// The file.
    public var file: FileDescription
    /// The protocol it came by.
    public var transferProtocol: FileTransferProtocol
    /// The offer's session (SI id or Jingle sid), unique per sender.
    public var id: String
    /// The bytestreams the sender can use, in its order of preference.
    public var methods: [BytestreamMethod]
}

/// Why a file transfer failed.
public enum FileTransferError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The peer declined the offer (or the transfer), with its words if any.
    case declined(String?)
    /// No bytestream both sides can use (for SOCKS5: no proxy reachable by both, and in-band not allowed).
    case noCommonMethod
    /// The bytes stopped, came in the wrong order, or the connection to the proxy failed.
    case transferFailed(String)
    /// The received file's hash is not the one offered: it was removed.
    case hashMismatch
    /// The received file is not the size offered: it was removed.
    case sizeMismatch(expected: Int64, received: Int64)
    /// The local file cannot be read or written.
    case cannotAccessFile(String)
    /// The peer cancelled.
    case cancelledByPeer

    public var description: String {
        switch self {
        case .declined(let text): "the peer declined the file" + (text.map { ": \($0)" } ?? "")
        case .noCommonMethod: "no way to send the bytes that both sides support"
        case .transferFailed(let why): "the transfer failed: \(why)"
        case .hashMismatch: "the file received does not have the hash offered"
        case .sizeMismatch(let expected, let received): "\(received) bytes received, \(expected) offered"
        case .cannotAccessFile(let why): why
        case .cancelledByPeer: "the peer cancelled the transfer"
        }
    }
}
