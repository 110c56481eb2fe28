import XMPPCore

/// Messages this node sent to sessions of other nodes and that those nodes have not acknowledged yet, by node: when a
/// node dies with some unacknowledged (they were in its socket, or in flight), they are handled here as for a session
/// that ended (the account's resources here, or offline storage), so a message the server accepted is not lost with
/// the node. A node that received one just before dying may have delivered it too: a copy is better than a loss.
///
/// Bounded per node (``limit``): past it the oldest are no longer tracked (and logged).
struct Acknowledgements {
    struct Pending {
        var sequence: UInt64
        var jid: JID
        var element: Element
    }

    struct Link {
        var next: UInt64 = 1
        var pending: [Pending] = []
        /// Where the unacknowledged ones start in `pending` (removed lazily, so acknowledging is cheap).
        var start = 0
    }

    /// Unacknowledged messages kept per node at most.
    let limit: Int
    private var links: [String: Link] = [:]
    /// How many were no longer tracked because a node had `limit` unacknowledged already.
    private(set) var untracked = 0

    init(limit: Int) {
        self.limit = limit
    }

    /// Numbers a message for `node` and keeps it until acknowledged.
    mutating func track(_ element: Element, to jid: JID, on node: String) -> UInt64 {
        var link = links[node] ?? Link()
        let sequence = link.next
        link.next += 1
        if link.pending.count - link.start >= limit {
            link.start += 1
            untracked += 1
        }
        link.pending.append(Pending(sequence: sequence, jid: jid, element: element))
        compact(&link)
        links[node] = link
        return sequence
    }

    /// Forgets what `node` acknowledged, up to `sequence`.
    mutating func acknowledge(upTo sequence: UInt64, by node: String) {
        guard var link = links[node] else { return }
        while link.start < link.pending.count, link.pending[link.start].sequence <= sequence { link.start += 1 }
        compact(&link)
        links[node] = link
    }

    /// Takes back the message numbered last for `node`, which was never sent: its number is given out again, so the
    /// node sees no gap. With `evicted`, numbering it had pushed the oldest held message out (the limit): that one is
    /// held again. Does nothing when `sequence` is not the last number given.
    mutating func withdrawLast(_ sequence: UInt64, on node: String, evicted: Bool) {
        guard var link = links[node], link.next == sequence + 1, link.pending.last?.sequence == sequence else { return }
        link.pending.removeLast()
        link.next = sequence
        if evicted, link.start > 0 {
            link.start -= 1
            untracked -= 1
        }
        link.start = min(link.start, link.pending.count)
        links[node] = link
    }

    /// Takes one message back (it was not received: the caller handles it).
    mutating func remove(_ sequence: UInt64, on node: String) -> Pending? {
        guard var link = links[node], let index = link.pending[link.start...].firstIndex(where: { $0.sequence == sequence }) else { return nil }
        let removed = link.pending.remove(at: index)
        links[node] = link
        return removed
    }

    /// Takes every unacknowledged message of a node that is gone, and forgets the node.
    mutating func takeAll(of node: String) -> [Pending] {
        guard let link = links.removeValue(forKey: node) else { return [] }
        return Array(link.pending[link.start...])
    }

    /// Unacknowledged messages in all.
    var count: Int { links.values.reduce(0) { $0 + $1.pending.count - $1.start } }

    private func compact(_ link: inout Link) {
        if link.start > 1024 && link.start * 2 > link.pending.count {
            link.pending.removeFirst(link.start)
            link.start = 0
        }
    }
}
