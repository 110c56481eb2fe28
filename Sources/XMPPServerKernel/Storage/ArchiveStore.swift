import Foundation
import XMPPCore

/// One stanza kept in an archive (a user's message archive, a room's history).
public struct ArchivedStanza: Sendable, Hashable {
    /// The archive's id for it (its XEP-0359 stanza id); unique within the archive.
    public var id: String
    /// When it was archived.
    public var timestamp: Date
    /// The other party: the contact of a one-to-one message, the occupant of a room message.
    public var with: JID
    /// The stanza.
    public var element: Element

    /// Creates an entry.
    public init(id: String, timestamp: Date, with: JID, element: Element) {
        self.id = id
        self.timestamp = timestamp
        self.with = with
        self.element = element
    }
}

/// Which entries of an archive to return, oldest first (XEP-0313 filters with XEP-0059 paging).
public struct ArchiveQuery: Sendable, Hashable {
    /// Only entries with this party: a bare JID matches every resource of it, a full JID only itself.
    public var with: JID?
    /// Only entries at or after this time.
    public var start: Date?
    /// Only entries at or before this time.
    public var end: Date?
    /// The page after this entry id (forward paging).
    public var after: String?
    /// The page before this entry id; the empty string asks for the last page (backward paging).
    public var before: String?
    /// The most entries in the page.
    public var max: Int
    /// Only the entries with these ids (XEP-0313's `ids` field).
    public var ids: [String]?

    /// A query; every filter optional.
    public init(with: JID? = nil, start: Date? = nil, end: Date? = nil, after: String? = nil, before: String? = nil, max: Int,
                ids: [String]? = nil) {
        self.with = with
        self.start = start
        self.end = end
        self.after = after
        self.before = before
        self.max = max
        self.ids = ids
    }

    /// Whether `entry` passes the filters (not the paging).
    func matches(_ entry: ArchivedStanza) -> Bool {
        if let with, with.isBare ? entry.with.bare != with : entry.with != with { return false }
        if let start, entry.timestamp < start { return false }
        if let end, entry.timestamp > end { return false }
        if let ids, !ids.contains(entry.id) { return false }
        return true
    }
}

/// One page of an archive query.
public struct ArchivePage: Sendable, Hashable {
    /// The entries, oldest first.
    public var items: [ArchivedStanza]
    /// Whether the page reaches the end of the results in the paging direction (the last page going forward, the
    /// first going backward): XEP-0313's `complete`.
    public var isComplete: Bool
    /// How many entries match the filters in all; `nil` when the backend would have to count too many to say.
    public var count: Int?

    /// Creates a page.
    public init(items: [ArchivedStanza], isComplete: Bool, count: Int?) {
        self.items = items
        self.isComplete = isComplete
        self.count = count
    }
}

/// Why an archive query cannot be answered.
public enum ArchiveQueryError: Error, Sendable, Hashable {
    /// The `after` or `before` id is not in the archive (XEP-0313 answers `item-not-found`).
    case unknownID(String)
}

/// Append-only archives by name (a username, or a room's JID), queried by party, time and id with paging: the
/// storage shape of offline storage's successor and of message archives (XEP-0313).
public protocol ArchiveStore: Sendable {
    /// Appends an entry; an id already in the archive replaces nothing and returns `false`.
    @discardableResult func append(_ entry: ArchivedStanza, to archive: String) async throws -> Bool
    /// Appends entries to their archives in one go (one transaction where the backend has them); ids already in
    /// their archive are skipped.
    func append(_ entries: [(archive: String, entry: ArchivedStanza)]) async throws
    /// A page of the entries that match `query`. Throws ``ArchiveQueryError/unknownID(_:)`` for a paging id that
    /// is not in the archive.
    func query(_ query: ArchiveQuery, in archive: String) async throws -> ArchivePage
    /// Removes entries older than `date` (retention); returns how many.
    @discardableResult func removeEntries(olderThan date: Date, in archive: String) async throws -> Int
    /// Removes the whole archive (account or room deleted).
    func removeArchive(_ archive: String) async throws
}

extension ArchiveStore {
    /// Appends one entry after the other: for backends without transactions.
    public func append(_ entries: [(archive: String, entry: ArchivedStanza)]) async throws {
        for (archive, entry) in entries { try await append(entry, to: archive) }
    }
}

extension ArchiveQuery {
    /// Pages `matching` (all the entries passing the filters, oldest first) as XEP-0059 says; shared by the
    /// backends that filter in memory. `position` finds an entry's index among all of the archive's entries.
    func page(of matching: [ArchivedStanza], archiveOrder: (String) -> Int?) throws(ArchiveQueryError) -> ArchivePage {
        var window = matching[...]
        if let after {
            guard let anchor = archiveOrder(after) else { throw .unknownID(after) }
            window = window.drop { (archiveOrder($0.id) ?? 0) <= anchor }
        }
        if let before, !before.isEmpty {
            guard let anchor = archiveOrder(before) else { throw .unknownID(before) }
            window = window.prefix { (archiveOrder($0.id) ?? 0) < anchor }
        }
        let limit = Swift.max(0, max)
        if before != nil {
            let items = Array(window.suffix(limit))
            return ArchivePage(items: items, isComplete: items.count == window.count, count: matching.count)
        }
        let items = Array(window.prefix(limit))
        return ArchivePage(items: items, isComplete: items.count == window.count, count: matching.count)
    }
}

/// ``ArchiveStore`` in memory.
public final class InMemoryArchiveStore: ArchiveStore {
    private struct Archive {
        var entries: [ArchivedStanza] = []
        var order: [String: Int] = [:]
        var next = 0
    }

    private let archives = Locked<[String: Archive]>([:])

    /// Creates an empty store.
    public init() {}

    public func append(_ entry: ArchivedStanza, to archive: String) async throws -> Bool {
        archives.withLock { archives in Self.insert(entry, into: &archives[archive, default: Archive()]) }
    }

    public func append(_ entries: [(archive: String, entry: ArchivedStanza)]) async throws {
        archives.withLock { archives in
            for (archive, entry) in entries { _ = Self.insert(entry, into: &archives[archive, default: Archive()]) }
        }
    }

    /// Adds an entry in place (copying the archive to change it would make every append cost the archive's size).
    private static func insert(_ entry: ArchivedStanza, into stored: inout Archive) -> Bool {
        guard stored.order[entry.id] == nil else { return false }
        stored.entries.append(entry)
        stored.order[entry.id] = stored.next
        stored.next += 1
        return true
    }

    public func query(_ query: ArchiveQuery, in archive: String) async throws -> ArchivePage {
        let stored = archives.withLock { $0[archive] } ?? Archive()
        return try query.page(of: stored.entries.filter(query.matches), archiveOrder: { stored.order[$0] })
    }

    public func removeEntries(olderThan date: Date, in archive: String) async throws -> Int {
        archives.withLock { archives in
            guard var stored = archives[archive] else { return 0 }
            let old = stored.entries.prefix { $0.timestamp < date }.count
            for entry in stored.entries.prefix(old) { stored.order[entry.id] = nil }
            stored.entries.removeFirst(old)
            archives[archive] = stored
            return old
        }
    }

    public func removeArchive(_ archive: String) async throws {
        _ = archives.withLock { $0.removeValue(forKey: archive) }
    }
}
