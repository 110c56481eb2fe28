import Logging
import NIOCore
import RedisClient
import XMPPCore
import XMPPServerKernel

// Liveness: the heartbeat, reading which nodes are alive, reaping the ones that are gone, and coming back after this
// node's own heartbeat lapsed (and another node may have reaped it).
extension ClusterNode {
    /// How often the heartbeat and the membership read run: four times per TTL.
    var beatInterval: Duration { .milliseconds(max(100, settings.nodeTTL * 1000 / 4)) }

    /// Renews this node's key four times per TTL, on a connection of its own and in a task of its own: neither a flood
    /// of stanzas between nodes nor slow work on the other connection delays it until the others take this node for
    /// gone.
    func beat() async {
        while !Task.isCancelled {
            try? await Task.sleep(for: beatInterval)
            guard !Task.isCancelled, let liveness else { return }
            do {
                let answers = try await liveness.pipeline([
                    ["SET", keys.alive(nodeName), incarnation, "PX", String(settings.nodeTTL * 1000), "GET"],
                    ["SADD", keys.nodes, nodeName],
                ])
                guard answers.first?.string != incarnation else { continue }
                // The key had expired: the others took this node for gone and forgot its sessions and rooms.
                let starts = state.withLock { state -> Bool in
                    defer { state.rejoining = true }
                    return !state.rejoining
                }
                guard starts else { continue }
                logger.warning("this node's cluster heartbeat had lapsed; announcing its sessions again")
                Task { [self] in
                    await rejoin()
                    state.withLock { $0.rejoining = false }
                }
            } catch {
                logger.warning("cluster heartbeat failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Reads the other nodes' liveness as often as the heartbeat runs (reaping those that are gone), sends the
    /// announcements Redis did not take, and reads the whole directory every `cluster_resync_interval`.
    func watchMembership() async {
        var lastResync = ContinuousClock.now
        while !Task.isCancelled {
            try? await Task.sleep(for: beatInterval)
            guard !Task.isCancelled else { return }
            do {
                if state.withLock({ !$0.unannounced.isEmpty }) { await announceAgain() }
                try await refreshMembership()
                if ContinuousClock.now - lastResync > .seconds(settings.resyncInterval) {
                    lastResync = ContinuousClock.now
                    try await resynchronize()
                }
            } catch {
                logger.warning("cluster membership read failed", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Reads which nodes are alive; a node that is gone (key expired, or a new incarnation) is reaped.
    func refreshMembership() async throws {
        guard let liveness else { return }
        let backsBefore = state.withLock { $0.backs }
        let names = try await liveness.send(["SMEMBERS", keys.nodes]).stringElements
        let answers = names.isEmpty ? [] : try await liveness.pipeline(names.map { ["GET", keys.alive($0)] })
        var live: [String: String] = [:]
        for (name, answer) in zip(names, answers) {
            if let incarnation = answer.string { live[name] = incarnation }
        }
        live[nodeName] = incarnation
        let (previous, returned) = state.withLock { state -> ([String: String], Bool) in
            // A node that announced itself back meanwhile: this read may predate its heartbeat; what is known of it
            // stands, and the next read decides.
            for (node, count) in state.backs where backsBefore[node] != count {
                live[node] = state.live[node]
            }
            defer {
                state.live = live
                state.gone.subtract(live.keys)
            }
            return (state.live, !state.gone.isDisjoint(with: live.keys))
        }
        for (name, incarnation) in previous where name != nodeName && live[name] != incarnation {
            await nodeGone(name, incarnation: incarnation, backs: backsBefore[name, default: 0])
        }
        // Names that stayed in the set without a heartbeat (a node that died before anyone saw it alive).
        for name in names where live[name] == nil && previous[name] == nil {
            await nodeGone(name, incarnation: nil, backs: backsBefore[name, default: 0])
        }
        if returned {
            // A node taken for gone is alive again (its heartbeat had only lapsed): its events were ignored meanwhile,
            // so its sessions are read from the directory.
            do {
                try await resynchronize()
            } catch {
                logger.warning("cluster directory read failed; the next heartbeat tries again", metadata: ["error": "\(error)"])
            }
        }
    }

    /// Removes a gone node's directory and name, unless its heartbeat key exists again.
    static let reapScript = """
    if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
    redis.call('DEL', KEYS[2])
    redis.call('SREM', KEYS[3], ARGV[1])
    return 1
    """

    /// Forgets a node that is gone: its sessions leave the registry, the partitions it served are looked up again,
    /// and one node (the first to claim it) tells the sessions' contacts and cleans its keys. Nothing happens when
    /// the node said it is back since the read that found it gone (its count of `back` events is no longer `backs`).
    func nodeGone(_ node: String, incarnation: String?, backs: Int) async {
        guard let kernel, let commands else { return }
        let sessions = state.withLock { state -> [MirroredSession]? in
            guard state.backs[node, default: 0] == backs else { return nil }
            state.owners = state.owners.filter { $0.value != node }
            if state.live[node] == nil { state.gone.insert(node) }
            return Array(state.mirrors.removeValue(forKey: node)?.values ?? [:].values)
        }
        guard let sessions else { return }
        let claim = ["SET", keys.reaped(node, incarnation ?? "unknown"), nodeName, "NX", "EX", "600"]
        let reaper = (try? await commands.send(claim))?.string == "OK"
        logger.warning("cluster node gone", metadata: ["node": "\(node)", "sessions": "\(sessions.count)", "reaper": "\(reaper)"])
        let eventLoop = eventLoops.next()
        var broadcasts: [EventLoopFuture<Void>] = []
        for session in sessions {
            if reaper {
                // Unavailable presence to its contacts and the account's other resources, and the session-ended hooks.
                if let broadcast = kernel.sessionEnded(session) { broadcasts.append(broadcast) }
            } else {
                kernel.registry.remove(session)
            }
        }
        // Messages the dead node never acknowledged: to the account's other resources, or offline storage.
        let pending = unacknowledged.withLock { $0.takeAll(of: node) }
        if let incarnation { _ = received.withLock { $0.removeValue(forKey: node + "/" + incarnation) } }
        for message in pending { undeliverable(message.element, to: message.jid) }
        if !pending.isEmpty { logger.notice("messages the gone node had not acknowledged were delivered again", metadata: ["count": "\(pending.count)"]) }
        let lost = Set(sessions.map(\.jid))
        if !lost.isEmpty {
            for service in kernel.hostedServices {
                (service as? any PartitionedService)?.sessionsLost(lost, kernel: kernel, eventLoop: eventLoop)
            }
        }
        if reaper {
            // Unless it came back meanwhile (a new incarnation, or a heartbeat that had only lapsed).
            _ = try? await commands.send(["EVAL", Self.reapScript, "3", keys.alive(node), keys.sessions(node), keys.nodes, node])
            guard let incarnation else { return }
            // Once the contacts were told (the presence is on its way to the other nodes through Redis, ahead of what
            // follows; a remote server's contacts get it over federation, which may cross the later presence): a node
            // that had only lapsed announces its users' presence again, after this.
            for broadcast in broadcasts { try? await broadcast.get() }
            _ = try? await commands.pipeline([
                ["SET", keys.reaped(node, incarnation), Self.reapDone, "XX", "KEEPTTL"],
                ["PUBLISH", keys.events, ClusterFrame.reaped(node: node, incarnation: incarnation, by: nodeName).text],
            ])
        }
    }

    /// The value of `reaped:NODE:INCARNATION` once the reaper has told the node's contacts.
    static let reapDone = "told"

    /// Back after this node's heartbeat lapsed (the others may have taken it for gone): alive again, announced as back
    /// (so the others take its events again, in order, before its sessions), then ``recover()``.
    func rejoin() async {
        guard let commands else { return }
        do {
            _ = try await commands.pipeline([
                ["SET", keys.alive(nodeName), incarnation, "PX", String(settings.nodeTTL * 1000)],
                ["SADD", keys.nodes, nodeName],
                ["PUBLISH", keys.events, ClusterFrame.back(node: nodeName, incarnation: incarnation).text],
            ])
        } catch {
            logger.warning("cluster heartbeat failed", metadata: ["error": "\(error)"])
            return
        }
        await recover()
    }

    // MARK: Coming back

    /// After Redis came back, or after this node's heartbeat lapsed (the others forgot it): what this node knows of
    /// partitions may be stale, its sessions are written and announced again, and the directory is read again; the
    /// announcements Redis did not take go out again; and if another node took this one for gone and told its users'
    /// contacts so, their presence goes out again (and they learn which rooms served elsewhere removed them).
    func recover() async {
        state.withLock { state in
            state.owners = [:]
            state.served = []
        }
        do {
            try await republishOwnSessions()
            try await resynchronize()
        } catch {
            logger.warning("cluster recovery failed; the next heartbeat tries again", metadata: ["error": "\(error)"])
        }
        await announceAgain()
        if await wasReaped() {
            await forgetMembershipsRemovedAtReaping()
            await announcePresenceAgain()
        }
    }

    /// Takes the reaper's word that it told this node's contacts it was gone (`reaped:NODE:INCARNATION` = told),
    /// deleting it: true once per reaping, whichever of the heartbeat, a reconnection or the reaper's frame asks first;
    /// a node reaped again later is claimed and told anew.
    func wasReaped() async -> Bool {
        let answer = try? await commands?.send(["EVAL", Self.takeReapedScript, "1", keys.reaped(nodeName, incarnation), Self.reapDone])
        return answer?.integer == 1
    }

    static let takeReapedScript = """
    if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) return 1 end
    return 0
    """
}
