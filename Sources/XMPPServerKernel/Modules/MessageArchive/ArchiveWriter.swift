import Logging
import Foundation
import NIOCore
import Atomics
import XMPPCore

/// Writes archive entries off the routing path: the filters queue them, and one task at a time stores them in
/// batches (one transaction per batch), so a burst of messages costs a few writes, not one each. When the queue
/// passes half of its bound the senders are slowed (``relief(on:)``, a kernel sender throttle) until it is back
/// under a quarter, so a server saturated with messages archives them all at the rate storage takes; only past the
/// bound itself (`mam_write_queue`) are new messages refused with `resource-constraint`, rather than accepted and
/// silently left out of the archive.
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

    /// What the queue holds: entries, and removals of whole archives, done in order with them.
    private enum Work {
        case append(Pending)
        case remove(String)
    }

    private struct State {
        var queue: [Work] = []
        /// Entries taken for the write under way: still behind, as far as senders are concerned.
        var inFlight = 0
        var isDraining = false
        /// Archives with a removal queued and not yet done, with how many.
        var removing: [String: Int] = [:]
        var peakDepth = 0
        /// Senders waiting for the queue to shrink.
        var waiting: [EventLoopPromise<Void>] = []
        /// Work items queued since the start, and written (or given up on) since the start.
        var queuedTotal = 0
        var writtenTotal = 0
        /// Queries waiting for what was queued before them to be written: the total each waits for.
        var readers: [(id: UUID, total: Int, continuation: CheckedContinuation<Void, Never>)] = []
    }

    private let state = Locked(State())
    private let capacity = ManagedAtomic<Int>(50_000)
    /// The most entries stored in one transaction.
    static let batchSize = 2048
    /// Whether senders are being slowed (read without the lock on every stanza).
    private let isBehind = ManagedAtomic<Bool>(false)

    /// Sets the most entries that may wait (`mam_write_queue`).
    public func setCapacity(_ value: Int) { capacity.store(value, ordering: .relaxed) }

    /// Entries waiting now.
    public var depth: Int { state.withLock { $0.queue.count } }

    /// The most entries that were ever waiting at once (reported by the benchmarks).
    public var peakDepth: Int { state.withLock { $0.peakDepth } }

    /// Waits until everything queued before the call is written (or `timeout` passes): a query right after a message
    /// finds it in the archive, whichever backend writes it and however fast. Each caller waits on its own deadline.
    public func awaitQueuedWrites(timeout: Duration = .seconds(5)) async {
        let id = UUID()
        let waiter = Task {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let done = state.withLock { state -> Bool in
                    guard state.writtenTotal < state.queuedTotal else { return true }
                    state.readers.append((id, state.queuedTotal, continuation))
                    return false
                }
                if done { continuation.resume() }
            }
        }
        let timer = Task {
            try? await Task.sleep(for: timeout)
            guard !Task.isCancelled else { return }
            // Past its deadline this query goes ahead with what is written.
            let late = state.withLock { state -> CheckedContinuation<Void, Never>? in
                guard let index = state.readers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.readers.remove(at: index).continuation
            }
            late?.resume()
        }
        await waiter.value
        timer.cancel()
    }

    /// `nil` while the queue is short; past half its bound, a future that completes on `eventLoop` once it is back
    /// under a quarter.
    public func relief(on eventLoop: any EventLoop) -> EventLoopFuture<Void>? {
        guard isBehind.load(ordering: .relaxed) else { return nil }
        let promise = eventLoop.makePromise(of: Void.self)
        let stillBehind = state.withLock { state -> Bool in
            guard isBehind.load(ordering: .relaxed) else { return false }
            state.waiting.append(promise)
            return true
        }
        if !stillBehind { promise.succeed() }
        return promise.futureResult
    }

    /// Queues an entry; `false` when the queue is full.
    public func enqueue(_ pending: Pending, kernel: ServerKernel) -> Bool {
        let capacity = self.capacity.load(ordering: .relaxed)
        let startDrain = state.withLock { state -> Bool? in
            guard state.queue.count < capacity else { return nil }
            state.queue.append(.append(pending))
            state.queuedTotal += 1
            state.peakDepth = max(state.peakDepth, state.queue.count)
            if state.queue.count + state.inFlight > capacity / 2 { isBehind.store(true, ordering: .relaxed) }
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
            let capacity = self.capacity.load(ordering: .relaxed)
            let (batch, relieved) = state.withLock { state -> ([Work], [EventLoopPromise<Void>]) in
                let batch = Array(state.queue.prefix(Self.batchSize))
                state.queue.removeFirst(batch.count)
                // The previous batch is written; this one is not yet.
                state.inFlight = batch.count
                if batch.isEmpty { state.isDraining = false }
                guard state.queue.count + state.inFlight <= capacity / 4, !state.waiting.isEmpty || isBehind.load(ordering: .relaxed) else {
                    return (batch, [])
                }
                isBehind.store(false, ordering: .relaxed)
                defer { state.waiting = [] }
                return (batch, state.waiting)
            }
            for promise in relieved { promise.succeed() }
            guard !batch.isEmpty else { return }
            await write(batch, kernel: kernel)
            let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
                state.writtenTotal += batch.count { if case .append = $0 { true } else { false } }
                let written = state.writtenTotal
                let ready = state.readers.filter { $0.total <= written }.map(\.continuation)
                state.readers.removeAll { $0.total <= written }
                return ready
            }
            for reader in ready { reader.resume() }
        }
    }

    /// Appends the entries of a batch, in runs between the removals it contains.
    private func write(_ batch: [Work], kernel: ServerKernel) async {
        var run: [Pending] = []
        for work in batch + [.remove("")] {
            switch work {
            case .append(let pending):
                run.append(pending)
            case .remove(let archive):
                if !run.isEmpty {
                    let entries = await Self.applyRosterPreference(run, kernel: kernel)
                    run = []
                    do {
                        try await kernel.storage.archives.append(entries.map { ($0.archive, $0.entry) })
                    } catch {
                        kernel.logger.error("archive write failed", metadata: ["entries": "\(entries.count)", "error": "\(error)"])
                    }
                }
                guard !archive.isEmpty else { continue }
                do { try await kernel.storage.archives.removeArchive(archive) } catch {
                    kernel.logger.error("archive removal failed", metadata: ["archive": "\(archive)", "error": "\(error)"])
                }
                state.withLock { state in
                    state.removing[archive, default: 1] -= 1
                    if state.removing[archive] == 0 { state.removing[archive] = nil }
                }
            }
        }
    }

    /// Removes a whole archive after every entry queued for it so far is written (a room thrown away while its last
    /// messages wait): nothing queued earlier comes back after the removal.
    public func removeArchive(_ archive: String, kernel: ServerKernel) {
        let startDrain = state.withLock { state -> Bool in
            state.queue.append(.remove(archive))
            state.removing[archive, default: 0] += 1
            guard !state.isDraining else { return false }
            state.isDraining = true
            return true
        }
        if startDrain { kernel.startBackgroundTask { await self.drain(kernel: kernel) } }
    }

    /// Whether a removal of `archive` is queued and not done yet: until it is, a query of that archive could read what
    /// is being thrown away.
    public func isRemoving(_ archive: String) -> Bool {
        state.withLock { $0.removing[archive] != nil }
    }

    /// Returns once no removal of `archive` is pending (at most `timeout`; `false` if it still is).
    public func awaitRemoval(of archive: String, timeout: Duration = .seconds(10)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while isRemoving(archive) {
            guard ContinuousClock.now < deadline else { return false }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return true
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
