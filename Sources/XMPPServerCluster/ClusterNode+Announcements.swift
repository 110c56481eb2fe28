import Logging
import RedisClient
import XMPPCore

// Account-data announcements (a message stored offline, a blocklist or PEP change) that could not reach Redis: kept,
// and published again once Redis answers. The one that matters most: a message for a user online on another node,
// which could not be forwarded while Redis was away and went to offline storage, reaches that user once the node
// serving them hears of it, instead of at the user's next login.
extension ClusterNode {
    /// An account and what changed in its data.
    struct AccountTopic: Hashable {
        var username: String
        var topic: String
    }

    /// How long an announcement is published again, at every heartbeat, once Redis takes it: enough for the other nodes
    /// to be back on Redis too (pub/sub keeps nothing for a node that is not subscribed yet).
    var announcementWindow: Duration { .seconds(max(10, settings.nodeTTL * 3)) }

    /// Keeps the account-data announcements among `commands` that could not be sent (bounded by
    /// `cluster_outbox_limit`; past it they are dropped, and the messages wait for the user's next login).
    func retainUnannounced(_ commands: [[String]]) {
        for command in commands where command.count == 3 && command[0] == "PUBLISH" {
            guard case .accountData(_, let username, let topic)? = ClusterFrame(command[2]) else { continue }
            let kept = state.withLock { state -> Bool in
                let key = AccountTopic(username: username, topic: topic)
                guard state.unannounced.count < settings.limits.outbox || state.unannounced[key] != nil else { return false }
                // Not due to end until Redis has taken it once.
                state.unannounced[key] = .some(nil)
                return true
            }
            if !kept {
                logger.warning("too many cluster announcements wait for Redis; one is dropped",
                               metadata: ["user": "\(username)", "topic": "\(topic)"])
            }
        }
    }

    /// Publishes the kept announcements again (after recovery, and at every heartbeat while some are kept); each is
    /// forgotten ``announcementWindow`` after Redis first took it.
    func announceAgain() async {
        guard let commands else { return }
        let now = ContinuousClock.now
        let due = state.withLock { state -> [AccountTopic] in
            state.unannounced = state.unannounced.filter { $0.value.map { $0 > now } ?? true }
            return Array(state.unannounced.keys)
        }
        guard !due.isEmpty else { return }
        let frames = due.map { ClusterFrame.accountData(node: nodeName, username: $0.username, topic: $0.topic) }
        guard (try? await commands.pipeline(frames.map { ["PUBLISH", keys.events, $0.text] })) != nil else { return }
        let until = ContinuousClock.now + announcementWindow
        state.withLock { state in
            for key in due where state.unannounced[key] == .some(nil) { state.unannounced[key] = until }
        }
    }
}
