import Logging
import XMPPCore

/// What nodes tell each other over Redis pub/sub, as text: a letter, header fields each on its own line, then the
/// body (XML, which may hold newlines) as the rest. JIDs hold no line breaks (RFC 7622 forbids control characters).
enum ClusterFrame: Equatable {
    // On the events channel, from the node holding the session:
    /// A session was bound.
    case bound(node: String, jid: JID)
    /// A session's broadcast presence (`nil`: unavailable) and priority.
    case presence(node: String, jid: JID, priority: Int, presence: String?)
    /// A shared session value changed (`nil`: removed).
    case shared(node: String, jid: JID, key: String, value: String?)
    /// A session ended.
    case ended(node: String, jid: JID)
    /// Cached data of an account changed.
    case accountData(node: String, username: String, topic: String)
    /// A node whose heartbeat had lapsed is alive again (same incarnation); its sessions follow.
    case back(node: String, incarnation: String)
    /// `by` took `node` (incarnation `incarnation`) for gone and has told its contacts so.
    case reaped(node: String, incarnation: String, by: String)

    // On a node's inbox:
    /// A stanza for a session of the receiving node; a message that offline storage would keep has a sequence
    /// number (counted per sending node, from 1) that the receiver acknowledges, 0 otherwise.
    /// `incarnation` is the sender's, so that numbers from before a restart are never taken for new ones.
    case deliver(from: String, incarnation: String, sequence: UInt64, jid: JID, stanza: String)
    /// The receiving node's messages (of its incarnation `incarnation`) up to `sequence` reached `from`'s sessions.
    case acknowledged(from: String, incarnation: String, sequence: UInt64)
    /// Close a session of the receiving node with a stream error (`nil`: cleanly).
    case close(jid: JID, condition: String?, text: String?)
    /// A stanza for a partitioned service's entity the receiving node serves.
    case service(to: JID, stanza: String)

    /// The node and session a session event is about.
    var sessionEvent: (node: String, jid: JID)? {
        switch self {
        case .bound(let node, let jid), .ended(let node, let jid): (node, jid)
        case .presence(let node, let jid, _, _), .shared(let node, let jid, _, _): (node, jid)
        default: nil
        }
    }

    /// The frame as published.
    var text: String {
        switch self {
        case .bound(let node, let jid): "B\n\(node)\n\(jid)"
        case .presence(let node, let jid, let priority, let presence): "P\n\(node)\n\(jid)\n\(priority)\n\(presence ?? "")"
        case .shared(let node, let jid, let key, let value): "S\n\(node)\n\(jid)\n\(key)\n\(value == nil ? "0" : "1")\n\(value ?? "")"
        case .ended(let node, let jid): "E\n\(node)\n\(jid)"
        case .accountData(let node, let username, let topic): "A\n\(node)\n\(topic)\n\(username)"
        case .back(let node, let incarnation): "U\n\(node)\n\(incarnation)"
        case .reaped(let node, let incarnation, let by): "X\n\(node)\n\(incarnation)\n\(by)"
        case .deliver(let from, let incarnation, let sequence, let jid, let stanza):
            "D\n\(from)\n\(incarnation)\n\(sequence)\n\(jid)\n\(stanza)"
        case .acknowledged(let from, let incarnation, let sequence): "K\n\(from)\n\(incarnation)\n\(sequence)"
        case .close(let jid, let condition, let text): "C\n\(jid)\n\(condition ?? "")\n\(text ?? "")"
        case .service(let to, let stanza): "R\n\(to)\n\(stanza)"
        }
    }

    /// Reads a published frame; `nil` for anything malformed (ignored: it cannot come from a node of this version).
    init?(_ text: String) {
        func fields(_ count: Int) -> [String]? {
            let parts = text.split(separator: "\n", maxSplits: count, omittingEmptySubsequences: false).map(String.init)
            return parts.count == count + 1 ? Array(parts.dropFirst()) : nil
        }
        func jid(_ raw: String) -> JID? { JID(validating: raw) }
        switch text.first {
        case "B":
            guard let f = fields(2), let jid = jid(f[1]) else { return nil }
            self = .bound(node: f[0], jid: jid)
        case "P":
            guard let f = fields(4), let jid = jid(f[1]), let priority = Int(f[2]) else { return nil }
            self = .presence(node: f[0], jid: jid, priority: priority, presence: f[3].isEmpty ? nil : f[3])
        case "S":
            guard let f = fields(5), let jid = jid(f[1]) else { return nil }
            self = .shared(node: f[0], jid: jid, key: f[2], value: f[3] == "1" ? f[4] : nil)
        case "E":
            guard let f = fields(2), let jid = jid(f[1]) else { return nil }
            self = .ended(node: f[0], jid: jid)
        case "A":
            guard let f = fields(3) else { return nil }
            self = .accountData(node: f[0], username: f[2], topic: f[1])
        case "U":
            guard let f = fields(2) else { return nil }
            self = .back(node: f[0], incarnation: f[1])
        case "X":
            guard let f = fields(3) else { return nil }
            self = .reaped(node: f[0], incarnation: f[1], by: f[2])
        case "D":
            guard let f = fields(5), let sequence = UInt64(f[2]), let jid = jid(f[3]) else { return nil }
            self = .deliver(from: f[0], incarnation: f[1], sequence: sequence, jid: jid, stanza: f[4])
        case "K":
            guard let f = fields(3), let sequence = UInt64(f[2]) else { return nil }
            self = .acknowledged(from: f[0], incarnation: f[1], sequence: sequence)
        case "C":
            guard let f = fields(3), let jid = jid(f[0]) else { return nil }
            self = .close(jid: jid, condition: f[1].isEmpty ? nil : f[1], text: f[2].isEmpty ? nil : f[2])
        case "R":
            guard let f = fields(2), let to = jid(f[0]) else { return nil }
            self = .service(to: to, stanza: f[1])
        default:
            return nil
        }
    }
}

/// A session as the directory in Redis keeps it (one hash field per full JID of a node): priority, shared values
/// and available presence, for a node that joins later or reads the directory again.
struct SessionRecord: Equatable {
    var priority: Int
    var shared: [String: String]
    var presence: String?

    /// `priority`, then `key=value` pairs separated by tabs, then the presence, each on its own line.
    var text: String {
        let pairs = shared.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: "\t")
        return "\(priority)\n\(pairs)\n\(presence ?? "")"
    }

    init(priority: Int, shared: [String: String], presence: String?) {
        self.priority = priority
        self.shared = shared
        self.presence = presence
    }

    init?(_ text: String) {
        let parts = text.split(separator: "\n", maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count == 3, let priority = Int(parts[0]) else { return nil }
        self.priority = priority
        var shared: [String: String] = [:]
        for pair in parts[1].split(separator: "\t") {
            guard let equals = pair.firstIndex(of: "=") else { continue }
            shared[String(pair[..<equals])] = String(pair[pair.index(after: equals)...])
        }
        self.shared = shared
        presence = parts[2].isEmpty ? nil : String(parts[2])
    }
}
