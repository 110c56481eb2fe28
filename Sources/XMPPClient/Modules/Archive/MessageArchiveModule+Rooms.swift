import Foundation
import XMPPCore

// Rooms in the local archive: the groupchat messages of the rooms this user is in (XEP-0045), stored as the room's
// conversation (kind `.room`), apart from one-to-one conversations; corrections, retractions and reactions sent in a
// room change the stored messages they name.
extension MessageArchiveModule {
    /// What a groupchat message of `room` does to the archive: an occupant's message with a body is added; a
    /// correction (XEP-0308), retraction (XEP-0424) or reactions (XEP-0444) change the message they name (see
    /// ``MessageArchiveStorage/apply(_:toRoomMessage:by:account:room:)``); anything else, nothing. A message from the
    /// room's archive comes with the time and id the archive gave it.
    static func roomAction(for stanza: Element, in room: ChatRoom, account: JID, timestamp: Date? = nil, archiveID: String? = nil) -> Action? {
        guard stanza.name == "message", let message = Message(element: stanza), message.type == .groupchat,
              let from = message.from, from.bare == room.jid, let sender = RoomSender(of: stanza, from: from) else { return nil }
        if let (targetID, change) = MessageChange.parse(stanza, sender: from) {
            return .roomChange(change, targetID: targetID, sender: sender, room: room.jid)
        }
        var entry = roomEntry(for: stanza, message: message, sender: sender, in: room, account: account)
        if let timestamp { entry?.timestamp = timestamp }
        if let archiveID { entry?.archiveID = archiveID }
        return entry.map(Action.add)
    }

    /// The archive entry for an occupant's groupchat message with a body. What this user sent comes back reflected by
    /// the room under this user's nickname: it is stored as outgoing, so it never counts as unread. A message of the
    /// discussion history keeps the time the room received it (XEP-0203), and the room's stanza id (XEP-0359)
    /// recognizes it when the history is sent again on a rejoin.
    private static func roomEntry(for stanza: Element, message: Message, sender: RoomSender, in room: ChatRoom,
                                  account: JID) -> ArchivedMessage? {
        guard let body = message.body else { return nil }
        var entry = ArchivedMessage(account: account, peer: room.jid, direction: sender.nickname == room.nickname ? .outgoing : .incoming,
                                    body: body, thread: message.thread,
                                    stanzaID: StanzaIdentifier.originID(in: stanza)?.id ?? message.id,
                                    timestamp: Delay(in: stanza)?.stamp ?? Date(),
                                    archiveID: StanzaIdentifier.stanzaID(in: stanza, by: room.jid)?.id)
        entry.kind = .room
        entry.nickname = sender.nickname
        entry.occupantID = sender.occupantID
        entry.replyTo = stanza.child("reply", namespace: MessageChange.replyNamespace)?.attribute("id")
        return entry
    }

    /// The room `stanza` comes from, when this user is in it (or entering it, for the discussion history).
    static func room(sending stanza: Element, client: XMPPClient) -> ChatRoom? {
        guard stanza.name == "message", stanza.attribute("type") == Message.MessageType.groupchat.rawValue,
              let from = stanza.attribute("from").flatMap({ JID(validating: $0) }) else { return nil }
        return client.module(MultiUserChatModule.self)?.activeRoom(from.bare)
    }
}
