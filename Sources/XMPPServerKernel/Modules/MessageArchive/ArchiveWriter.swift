import Logging
import Foundation
import Synchronization
import XMPPCore

/// Writes archive entries off the routing path: the filters queue them, and one task at a time stores them in
/// batches (one transaction per batch), so a burst of messages costs a few writes, not one each. The queue is
/// bounded (`mam_write_queue`): when storage falls that far behind, new messages are refused with
/// `resource-constraint` rather than accepted and silently left out of the archive.
public final class ArchiveWriter: Sendable {
    /// An entry waiting to be stored.
    public struct Pending: Sendable {
        /// The archive: a username.
        var archive: String
        /// The entry.
        var entry: ArchivedStanza
        /// Whether the entry is stored only if `entry.with` is in the user's roster (the `roster` preference).
        var onlyWithRosterContact: Bool

        /// An entry for `archive`; `onlyWithRosterContact` applies a user's `roster` preference (a username's archive).
        public init(archive: String, entry: ArchivedStanza, onlyWithRosterContact: Bool = false) {
            self.archive = archive
            self.entry = entry
            self.onlyWithRosterContact = onlyWithRosterContact
        }
    }

    /// Creates a writer holding at most 50,000 entries until ``setCapacity(_:)``.
    public init() {}

    private struct State {
        var queue: [Pending] = []
        var isDraining = false
        var peakDepth = 0
    }

    private let state = Mutex(State())
    private let capacity = Atomic<Int>(50_000)
    /// The most entries stored in one transaction.
    static let batchSize = 256

    /// Sets the most entries that may wait (`mam_write_queue`).
    public func setCapacity(_ value: Int) { capacity.store(value, ordering: .relaxed) }

    /// Entries waiting now.
    public var depth: Int { state.withLock { $0.queue.count } }

    /// The most entries that were ever waiting at once (reported by the benchmarks).
    public var peakDepth: Int { state.withLock { $0.peakDepth } }

    /// Queues an entry; `false` when the queue is full.
    public func enqueue(_ pending: Pending, kernel: ServerKernel) -> Bool {
        let capacity = self.capacity.load(ordering: .relaxed)
        let startDrain = state.withLock { state -> Bool? in
            guard state.queue.count < capacity else { return nil }
            state.queue.append(pending)
            state.peakDepth = max(state.peakDepth, state.queue.count)
            guard !state.isDraining else { return false }
            state.isDraining = true
            return true
        }
        guard let startDrain else { return false }
        if startDrain { kernel.startBackgroundTask { await self.drain(kernel: kernel) } }
        return true
    }

    private func drain(kernel: ServerKernel) async {
        while true {
            let batch = state.withLock { state -> [Pending] in
                let batch = Array(state.queue.prefix(Self.batchSize))
                state.queue.removeFirst(batch.count)
                if batch.isEmpty { state.isDraining = false }
                return batch
            }
            guard !batch.isEmpty else { return }
            let entries = await Self.applyRosterPreference(batch, kernel: kernel)
            do {
                try await kernel.storage.archives.append(entries.map { ($0.archive, $0.entry) })
            } catch {
                kernel.logger.error("archive write failed", metadata: ["entries": "\(entries.count)", "error": "\(error)"])
            }
        }
    }

    /// Drops the entries whose user archives only roster contacts and whose party is not one (each roster read once).
    private static func applyRosterPreference(_ batch: [Pending], kernel: ServerKernel) async -> [Pending] {
        guard batch.contains(where: \.onlyWithRosterContact) else { return batch }
        var rosters: [String: Set<JID>] = [:]
        var kept: [Pending] = []
        for pending in batch {
            guard pending.onlyWithRosterContact else { kept.append(pending); continue }
            if rosters[pending.archive] == nil, let user = try? JID(localpart: pending.archive, domainpart: kernel.configuration.domain) {
                rosters[pending.archive] = Set(await kernel.rosterItems(of: user).filter(\.isListed).map(\.jid))
            }
            if rosters[pending.archive]?.contains(pending.entry.with.bare) == true { kept.append(pending) }
        }
        return kept
    }
}
