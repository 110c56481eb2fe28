import NIOCore
import XMPPCore
import XMPPServerKernel

// The chat service on a cluster (``PartitionedService``): each room is served by one node at a time, which the cluster
// link picks; another node takes a room over when its node is gone, from what the shared storage holds.
extension MUCService: PartitionedService {
    /// A room's partition is its name; the service's own domain (disco, the room list) is answered by any node.
    public func partition(of to: JID) -> String? {
        to.localpart
    }

    /// Drops this node's copy of the room if nobody is in it here (a copy read at start, or before another node served
    /// the room), then reads the stored rooms again so the room comes back as the previous node left it.
    public func adopt(_ partition: String, kernel: ServerKernel) async {
        guard isLoaded else { return }   // The first stanza reads every stored room anyway.
        if let box = rooms.withLock({ $0[partition] }) {
            let dropped = box.state.withLock { slot -> Room? in
                guard !slot.isClosed, !slot.isNew, slot.room.occupants.isEmpty else { return nil }
                slot.isClosed = true
                return slot.room
            }
            guard let dropped else { return }
            _ = ledger.replace(PersistentRoomLedger.Share(dropped), with: .none, within: nil)
            rooms.withLock { table in if table[partition] === box { table[partition] = nil } }
        }
        await storedRoomsReread(kernel: kernel)
    }

    /// Whether the room is in memory here (it exists, or was just read from storage).
    public func holds(_ partition: String) -> Bool {
        rooms.withLock { $0[partition] != nil }
    }

    /// Tells a session that the room `addressee` (`room@service/nick`) removed it while its node was taken for gone: the
    /// unavailable self-presence of a service going away (110 and 332), so a client joins again. The room is served
    /// elsewhere and its affiliations are not read for this: the item gives the role and the user's own JID only.
    public func tellRemoved(_ session: any ClientSession, from addressee: JID, kernel: ServerKernel) {
        let notice = Element("presence", namespace: XMLNamespace.client,
                             attributes: ["type": "unavailable", "from": addressee.description, "to": session.jid.description],
                             children: [.element(Element("x", namespace: MUCNamespace.user, children: [
                                 .element(Element("item", namespace: MUCNamespace.user, attributes: ["role": "none", "jid": session.jid.description])),
                                 .element(MUCStatus.selfPresence.element), .element(MUCStatus.shutdown.element),
                             ]))])
        session.deliver(notice)
    }

    /// Removes the sessions of a node that is gone from every room served here, as if each had left (its
    /// unavailable presence, which its own node can no longer send).
    public func sessionsLost(_ sessions: Set<JID>, kernel: ServerKernel, eventLoop: any EventLoop) {
        let boxes = rooms.withLock { Array($0.values) }
        var departures: [(from: JID, to: JID)] = []
        for box in boxes {
            box.state.withLock { slot in
                guard !slot.isClosed else { return }
                for occupant in slot.room.occupants.values {
                    for session in occupant.sessions where sessions.contains(session) {
                        departures.append((session, slot.room.occupantJID(occupant.nickname)))
                    }
                }
            }
        }
        guard !departures.isEmpty else { return }
        for (from, to) in departures {
            let leaving = Element("presence", namespace: XMLNamespace.client,
                                  attributes: ["type": "unavailable", "from": from.description, "to": to.description])
            _ = receive(leaving, to: to, kernel: kernel, eventLoop: eventLoop)
        }
    }
}
