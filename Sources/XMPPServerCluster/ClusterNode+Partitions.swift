import Logging
import NIOCore
import RedisClient
import XMPPCore
import XMPPServerKernel

// Partitioned services on a cluster: which node serves each partition (a chat room), claimed in Redis, adopted once,
// given up when it is gone; and stanzas forwarded to the serving node.
extension ClusterNode {
    /// The node serving `partition` of `service`: from the cache, or claimed in Redis by one atomic script (the
    /// recorded owner while it is alive, else the node rendezvous hashing picks among the live ones).
    func owner(of partition: String, in service: String) async throws -> String {
        let key = service + "|" + partition
        if let cached = state.withLock({ $0.owners[key] }) { return cached }
        guard let commands else { throw RedisError.notConnected }
        let live = state.withLock { Array($0.live.keys) }
        let candidate = Rendezvous.pick(key, among: live) ?? nodeName
        let answer = try await commands.send(["EVAL", Self.claimScript, "1", keys.owners, key, candidate, keys.alivePrefix])
        guard case .array(let values?) = answer, values.count == 2, let owner = values[0].string else {
            throw ClusterStartError(description: "unexpected answer to the ownership script: \(answer)")
        }
        if values[1].integer == 1 { logger.info("partition assigned", metadata: ["partition": "\(key)", "node": "\(owner)"]) }
        state.withLock { state in
            if state.owners.count >= settings.limits.cachedOwners { state.owners.removeAll() }
            state.owners[key] = owner
        }
        return owner
    }

    /// The adoption of `partition` of `service` to wait for before serving it: started with `adopt` the first time
    /// this node serves it (the service reads it from storage as the previous node left it), shared by the stanzas
    /// that come while it runs; `nil` once it is done.
    func adoption(of partition: String, in service: String, _ adopt: @escaping @Sendable () async -> Void) -> Task<Void, Never>? {
        let key = service + "|" + partition
        return state.withLock { state -> Task<Void, Never>? in
            if state.served.contains(key) { return nil }
            if let running = state.adopting[key] { return running }
            if state.served.count >= settings.limits.cachedOwners { state.served.removeAll() }
            let task = Task { [self] in
                await adopt()
                self.state.withLock { state in
                    state.served.insert(key)
                    state.adopting[key] = nil
                }
            }
            state.adopting[key] = task
            return task
        }
    }

    /// Gives up a partition the service does not hold (a room that does not exist, or no longer): its owner entry in
    /// Redis goes, if it is still this node's.
    func release(_ partition: String, in service: String) async {
        let key = service + "|" + partition
        state.withLock { state in
            state.owners[key] = nil
            state.served.remove(key)
        }
        _ = try? await commands?.send(["EVAL", Self.releaseScript, "1", keys.owners, key, nodeName])
    }

    /// Deletes an owner entry if it names the given node.
    static let releaseScript = """
    if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
    return 0
    """

    /// Who serves a partition, as far as this node knows without asking Redis.
    enum KnownOwner: Equatable {
        /// This node, which has adopted it.
        case this
        /// Another node.
        case other(String)
    }

    /// The partition's owner from the cache; `nil` when Redis must be asked (or this node must adopt it first).
    func knownOwner(of partition: String, in service: String) -> KnownOwner? {
        let key = service + "|" + partition
        return state.withLock { state -> KnownOwner? in
            guard let owner = state.owners[key] else { return nil }
            if owner != nodeName { return .other(owner) }
            return state.served.contains(key) ? .this : nil
        }
    }

    /// Forgets the cached owner of a partition (its node did not receive a stanza).
    func forgetOwner(of partition: String, in service: String) {
        _ = state.withLock { $0.owners.removeValue(forKey: service + "|" + partition) }
    }

    /// Keeps the recorded owner while its heartbeat key exists; otherwise records the candidate. Returns the owner and
    /// 1 when it changed.
    static let claimScript = """
    local owner = redis.call('HGET', KEYS[1], ARGV[1])
    if owner and redis.call('EXISTS', ARGV[3] .. owner) == 1 then return {owner, 0} end
    redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
    return {ARGV[2], 1}
    """

    /// Sends a stanza for a partition to the node serving it; `false` when nobody received it.
    func forwardToPartition(_ element: Element, to: JID, on node: String) async -> Bool {
        await withCheckedContinuation { continuation in
            forwardToPartition(element, to: to, on: node) { continuation.resume(returning: $0) }
        }
    }

    /// Sends a stanza for a partition to the node serving it, in the order of the calls; `received` is told whether
    /// a node received it.
    func forwardToPartition(_ element: Element, to: JID, on node: String, received: @escaping @Sendable (Bool) -> Void) {
        guard let commands else { return received(false) }
        commands.publish(keys.inbox(node), ClusterFrame.service(to: to, stanza: element.xmlString).text) { result in
            if case .success(let receivers) = result { received(receivers > 0) } else { received(false) }
        }
    }
}

/// Rendezvous (highest random weight) hashing: every node computes the same pick from the same live set, and a node
/// joining or leaving moves only the partitions it wins or held.
enum Rendezvous {
    static func pick(_ key: String, among nodes: [String]) -> String? {
        nodes.max { weight(key, $0) < weight(key, $1) || (weight(key, $0) == weight(key, $1) && $0 < $1) }
    }

    /// FNV-1a over the key and node name (Swift's own hashing differs between processes).
    static func weight(_ key: String, _ node: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        hash = (hash ^ 0xff) &* 0x100_0000_01b3
        for byte in node.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        // A final mix, so that names differing in their last byte do not weigh alike.
        hash ^= hash >> 33
        hash = hash &* 0xff51_afd7_ed55_8ccd
        hash ^= hash >> 33
        return hash
    }
}
