import Foundation
import XMPPCore

// Rooms in the local archive: the groupchat messages of the rooms this user is in (XEP-0045), stored as the room's
// conversation (kind `.room`), apart from one-to-one conversations.
extension MessageArchiveModule {
    /// The archive entry for a groupchat message of `room`, or `nil` when it is not an occupant's message with a body.
    /// What this user sent comes back reflected by the room under this user's nickname: it is stored as outgoing, so
    /// it never counts as unread. A message of the discussion history keeps the time the room received it
    /// (XEP-0203), and the room's stanza id (XEP-0359) recognizes it when the history is sent again on a rejoin.
    static func roomEntry(for stanza: Element, in room: ChatRoom, account: JID) -> ArchivedMessage? {
        guard stanza.name == "message", let message = Message(element: stanza), message.type == .groupchat,
              let from = message.from, from.bare == room.jid, let nickname = from.resourcepart, let body = message.body,
              MessageChange.parse(stanza, sender: from) == nil else { return nil }
        var entry = ArchivedMessage(account: account, peer: room.jid, direction: nickname == room.nickname ? .outgoing : .incoming,
                                    body: body, thread: message.thread,
                                    stanzaID: StanzaIdentifier.originID(in: stanza)?.id ?? message.id,
                                    timestamp: Delay(in: stanza)?.stamp ?? Date(),
                                    archiveID: StanzaIdentifier.stanzaID(in: stanza, by: room.jid)?.id)
        entry.kind = .room
        entry.nickname = nickname
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
