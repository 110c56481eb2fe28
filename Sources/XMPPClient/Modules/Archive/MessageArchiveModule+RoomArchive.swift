import Foundation
import XMPPCore

// A room's own archive (XEP-0313 at the room's JID, "MUC MAM"): what the room said while this user was away, beyond
// the discussion history it sends on entry. On every entry (when the module synchronizes with the server) the module
// fetches what the room archived after the newest message of the room stored before the entry; the discussion
// history arriving meanwhile is stored once either way.
extension MessageArchiveModule {
    /// Fetches what `room`'s own archive holds after the newest stored message of the room (the first time, its
    /// newest page), stores it in the room's conversation and returns how many messages were new. The module does
    /// this by itself on every entry into the room, unless `synchronizesWithServer` is off.
    @discardableResult
    public func synchronize(room: ChatRoom) async throws -> Int {
        let account = try client.require().configuration.jid.bare
        return try await catchUp(room: room, after: try storage.newestArchiveID(account: account, peer: room.jid))
    }

    /// Fetches the page of `room`'s own archive before the oldest stored message of the room it numbered, stores it,
    /// and returns the room's messages from the store (oldest first), for scrolling up.
    @discardableResult
    public func loadEarlier(in room: ChatRoom, limit: Int? = nil) async throws -> [ArchivedMessage] {
        try await pageBack(peer: room.jid, room: room, limit: limit)
    }

    /// Called by `room` as this user's entry is confirmed (its own presence, which comes before the discussion
    /// history): fetches what the room archived after the newest message of the room stored before the entry, read by
    /// the writer before anything the room sends next is stored, and reports it on ``synchronizations``.
    func roomEntered(_ room: ChatRoom) {
        guard synchronizesWithServer, let account = client.value?.configuration.jid.bare else { return }
        let point = Locked<String?>(nil)
        writer.write { [storage] in
            let newest = try storage.newestArchiveID(account: account, peer: room.jid)
            point.withLock { $0 = newest }
        }
        Task {
            await writer.flush()   // the point is read
            if let added = try? await catchUp(room: room, after: point.withLock { $0 }) { synchronized.publish(added) }
        }
    }
}
