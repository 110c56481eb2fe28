import XMPPCore

/// Who sent a message in a room: the nickname, and the occupant id (XEP-0421) when the room gives one. The occupant
/// id stays the same across nickname changes and visits, and only the room can set it.
public struct RoomSender: Sendable, Hashable {
    /// `urn:xmpp:occupant-id:0`.
    public static let occupantIDNamespace = "urn:xmpp:occupant-id:0"

    /// The nickname in the room.
    public var nickname: String
    /// The occupant id, when the room gives them.
    public var occupantID: String?

    /// Creates a sender.
    public init(nickname: String, occupantID: String? = nil) {
        self.nickname = nickname
        self.occupantID = occupantID
    }

    /// The sender of `stanza`, a message from an occupant's room JID; `nil` for one from the room itself.
    init?(of stanza: Element, from: JID) {
        guard let nickname = from.resourcepart else { return nil }
        self.init(nickname: nickname, occupantID: stanza.child("occupant-id", namespace: Self.occupantIDNamespace)?.attribute("id"))
    }
}

// Changes inside rooms: a correction or retraction only by the occupant who sent the message, reactions per nickname.
extension ArchivedMessage {
    /// Whether `sender` sent this room message: the same occupant id when the room gives them (an occupant id on
    /// one side only does not match), otherwise the same nickname. A nickname alone cannot tell an occupant from
    /// someone who took the nickname after they left.
    public func isSent(by sender: RoomSender) -> Bool {
        if occupantID != nil || sender.occupantID != nil { return occupantID == sender.occupantID }
        return nickname == sender.nickname
    }

    /// Whether a change naming `id` may mean this room message: its room stanza id or its sender's id.
    func isNamed(by id: String) -> Bool {
        archiveID == id || stanzaID == id
    }

    /// Applies `change`, sent in the room by `sender`: a correction or retraction only when `sender` sent this message
    /// (``isSent(by:)``), reactions under the sender's nickname; nothing to a retracted message. Returns whether
    /// anything changed.
    public mutating func apply(_ change: MessageChange, by sender: RoomSender) -> Bool {
        switch change {
        case .correction, .retraction:
            guard isSent(by: sender) else { return false }
            return apply(change, direction: direction)
        case .reactions(_, let emoji):
            guard !isRetracted else { return false }
            reactions[sender.nickname] = emoji.isEmpty ? nil : emoji
            return true
        }
    }

    /// Applies `change` to the first of `candidates` (the room messages `id` names, newest first) that takes it, those
    /// whose room stanza id is `id` before those whose sender's id is: someone else's message carrying the same id
    /// cannot hide the one meant. Returns the index of the message changed. Storages use it to implement
    /// ``MessageArchiveStorage/apply(_:toRoomMessage:by:account:room:)``.
    public static func apply(_ change: MessageChange, by sender: RoomSender, toFirstOf candidates: inout [ArchivedMessage],
                             named id: String) -> Int? {
        let order = candidates.indices.filter { candidates[$0].archiveID == id } + candidates.indices.filter { candidates[$0].archiveID != id }
        return order.first { candidates[$0].apply(change, by: sender) }
    }
}
