import XMPPCore

/// The JIDs one account blocks (XEP-0191), with the matching rules of its §6: an item `user@domain/resource` blocks
/// that resource only, `user@domain` every resource of the account, `domain/resource` that exact JID, and
/// `domain` the domain and everything on it (subdomains not included).
struct Blocklist: Sendable, Hashable {
    /// The items, as the user gave them (normalized).
    private(set) var items: Set<JID> {
        didSet { blockedDomains = Self.domains(in: items) }
    }
    /// The domains of the bare-domain items, so a check needs no JID built.
    private var blockedDomains: Set<String>

    /// A list of `items`.
    init(_ items: Set<JID> = []) {
        self.items = items
        self.blockedDomains = Self.domains(in: items)
    }

    private static func domains(in items: Set<JID>) -> Set<String> {
        Set(items.filter { $0.localpart == nil && $0.resourcepart == nil }.map(\.domainpart))
    }

    /// Whether nothing is blocked.
    var isEmpty: Bool { items.isEmpty }

    /// Whether stanzas from or to `jid` are blocked.
    func blocks(_ jid: JID) -> Bool {
        guard !items.isEmpty else { return false }
        return items.contains(jid) || items.contains(jid.bare) || blockedDomains.contains(jid.domainpart)
    }

    /// Adds items; the ones that were not there before.
    mutating func insert(_ new: [JID]) -> [JID] {
        var added: [JID] = []
        for jid in new where !items.contains(jid) {
            items.insert(jid)
            added.append(jid)
        }
        return added
    }

    /// Removes items; the ones that were there.
    mutating func remove(_ old: [JID]) -> [JID] {
        var removed: [JID] = []
        for jid in old where items.contains(jid) {
            items.remove(jid)
            removed.append(jid)
        }
        return removed
    }

    /// Removes every item; the ones that were there.
    mutating func removeAll() -> [JID] {
        defer { items = [] }
        return sorted
    }

    /// The items in a stable order (for replies and storage).
    var sorted: [JID] { items.sorted { $0.description < $1.description } }

    // MARK: Storage (a per-user document: one JID per line)

    /// The stored form.
    var document: [UInt8] { Array(sorted.map(\.description).joined(separator: "\n").utf8) }

    /// Reads the stored form; lines that are not JIDs (none should be) are skipped.
    init(document: [UInt8]) {
        let lines = String(decoding: document, as: UTF8.self).split(separator: "\n")
        self.init(Set(lines.compactMap { JID(validating: String($0)) }))
    }
}
