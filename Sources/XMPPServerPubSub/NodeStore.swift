import Foundation
import XMPPCore
import XMPPServerKernel

/// The nodes of every owner of one kind (every account's PEP, or the pubsub service), kept in the server's
/// per-service records (one record per node, JSON) and cached in memory for the most recently used owners.
/// Every change of one owner's nodes runs alone (``SerialQueues``) and is stored before its reply goes out.
public final class NodeStore: Sendable {
    private let records: any ServiceRecordStore
    private let recordPrefix: String
    private let defaults: NodeConfiguration
    private let limits: PubSubLimits
    private let isPersonal: Bool
    private let bounds: CacheBounds
    private let cache = Locked<Cache>(Cache())

    /// How much of the nodes stays in memory: owners, and bytes of item payloads.
    public struct CacheBounds: Sendable {
        /// Owners whose nodes are kept.
        public var owners: Int
        /// Bytes of item payloads kept in all.
        public var bytes: Int

        /// Creates bounds.
        public init(owners: Int, bytes: Int) {
            self.owners = max(1, owners)
            self.bytes = bytes
        }
    }

    private struct Cache {
        var nodes: [String: (nodes: PubSubNodes, bytes: Int)] = [:]
        var order: [String] = []
        var bytes = 0
    }
    private let queues = SerialQueues()

    /// A store whose records are named `recordPrefix` + owner (`pep:alice`, or the service's domain).
    public init(records: any ServiceRecordStore, recordPrefix: String, defaults: NodeConfiguration, limits: PubSubLimits,
                isPersonal: Bool, cache bounds: CacheBounds) {
        self.records = records
        self.recordPrefix = recordPrefix
        self.defaults = defaults
        self.limits = limits
        self.isPersonal = isPersonal
        self.bounds = bounds
    }

    /// Runs `change` on `owner`'s nodes, alone, then stores what it changed; returns its outcome.
    public func change(_ owner: String, _ change: @escaping @Sendable (inout PubSubNodes) throws(StanzaError) -> PubSubOutcome) async throws -> PubSubOutcome {
        try await queues.run(owner) {
            var nodes = try await self.load(owner)
            let before = nodes
            let outcome: PubSubOutcome
            do {
                outcome = try change(&nodes)
            } catch {
                self.remember(before, of: owner)
                throw error
            }
            let service = self.recordPrefix + owner
            let encoder = JSONEncoder()
            for name in outcome.changed.subtracting(outcome.deleted) {
                guard let node = nodes.nodes[name] else { continue }
                try await self.records.save(Array(try encoder.encode(node)), id: name, of: service)
            }
            for name in outcome.deleted { try await self.records.delete(id: name, of: service) }
            self.remember(nodes, of: owner)
            return outcome
        }
    }

    /// The owners and bytes held in memory now (for tests of the bounds).
    public var cachedFootprint: (owners: Int, bytes: Int) {
        cache.withLock { ($0.order.count, $0.bytes) }
    }

    /// `owner`'s nodes as they are now (after any change already asked for).
    public func nodes(of owner: String) async throws -> PubSubNodes {
        try await queues.run(owner) {
            let nodes = try await self.load(owner)
            self.remember(nodes, of: owner)
            return nodes
        }
    }

    /// Drops `owner`'s nodes from memory (another cluster node changed them): the next use reads them from storage.
    public func forget(_ owner: String) {
        cache.withLock { cache in
            if let removed = cache.nodes.removeValue(forKey: owner) { cache.bytes -= removed.bytes }
            cache.order.removeAll { $0 == owner }
        }
    }

    /// Removes every node of `owner` (account deletion).
    public func removeAll(of owner: String) async throws {
        try await queues.run(owner) {
            let service = self.recordPrefix + owner
            for record in try await self.records.records(of: service) { try await self.records.delete(id: record.id, of: service) }
            self.cache.withLock { cache in
                if let removed = cache.nodes.removeValue(forKey: owner) { cache.bytes -= removed.bytes }
                cache.order.removeAll { $0 == owner }
            }
        }
    }

    private func load(_ owner: String) async throws -> PubSubNodes {
        if let cached = cache.withLock({ $0.nodes[owner]?.nodes }) { return cached }
        let decoder = JSONDecoder()
        var nodes: [String: PubSubNode] = [:]
        for record in try await records.records(of: recordPrefix + owner) {
            guard let node = try? decoder.decode(PubSubNode.self, from: Data(record.data)) else { continue }
            nodes[node.name] = node
        }
        return PubSubNodes(nodes: nodes, defaults: defaults, limits: limits, isPersonal: isPersonal)
    }

    /// Keeps `owner`'s nodes in memory, then drops the least recently loaded owners while the cache holds too many
    /// owners or bytes (the one just kept stays, however large).
    private func remember(_ nodes: PubSubNodes, of owner: String) {
        let bytes = nodes.nodes.values.reduce(0) { $0 + $1.payloadBytes }
        cache.withLock { cache in
            if let previous = cache.nodes.updateValue((nodes, bytes), forKey: owner) {
                cache.bytes -= previous.bytes
            } else {
                cache.order.append(owner)
            }
            cache.bytes += bytes
            while cache.order.count > 1 && (cache.order.count > bounds.owners || cache.bytes > bounds.bytes) {
                guard let index = cache.order.firstIndex(where: { $0 != owner }) else { break }
                let evicted = cache.order.remove(at: index)
                if let removed = cache.nodes.removeValue(forKey: evicted) { cache.bytes -= removed.bytes }
            }
        }
    }
}

/// A ``NodeStore`` made on first use, over the kernel's per-service records: modules activate before the kernel (and
/// so its storage) exists.
final class LazyNodeStore: Sendable {
    private let make: @Sendable (any ServiceRecordStore) -> NodeStore
    private let made = Locked<NodeStore?>(nil)

    init(_ make: @escaping @Sendable (any ServiceRecordStore) -> NodeStore) {
        self.make = make
    }

    /// The store, made the first time over `kernel`'s records.
    func store(_ kernel: ServerKernel) -> NodeStore {
        made.withLock { made in
            if let made { return made }
            let store = make(kernel.storage.serviceRecords)
            made = store
            return store
        }
    }
}
