import XMPPCore

// Changing earlier messages of the room: corrections (XEP-0308), retractions (XEP-0424) and reactions (XEP-0444).
// The room reflects each to everyone, this user included: ``RoomEvent/messageChanged(_:)`` reports it, and a
// ``MessageArchiveModule`` beside the room applies it to the stored message.
extension ChatRoom {
    /// Replaces the text of a message this user sent to the room (XEP-0308); `messageID` is what ``send(_:)``
    /// returned: in rooms too, a correction names the sender's own id. Returns the correction's id.
    @discardableResult
    public func correct(_ messageID: String, with body: String) async throws -> String {
        try await sendChange(body: body, payloads: [MessageChange.correctionPayload(of: messageID)])
    }

    /// Takes back a message this user sent to the room (XEP-0424). In a room a retraction names the room's stanza id
    /// for the message (XEP-0359): ``RoomMessage/stanzaID`` of the room's reflection, or ``ArchivedMessage/archiveID``
    /// in the archive. Clients without retraction show a fallback text. Returns the retraction's id.
    @discardableResult
    public func retract(_ stanzaID: String) async throws -> String {
        try await sendChange(body: MessageChange.retractionFallbackBody, payloads: MessageChange.retractionPayload(of: stanzaID))
    }

    /// Sets this user's reactions to a message of the room (XEP-0444), named by the room's stanza id for it (as for
    /// ``retract(_:)``): the emoji given replace this user's earlier ones; none takes them away. Returns the id of the
    /// message that carries them.
    @discardableResult
    public func react(to stanzaID: String, with reactions: [String]) async throws -> String {
        try await sendChange(body: nil, payloads: [MessageChange.reactionsPayload(to: stanzaID, reactions)])
    }

    /// Sends a groupchat message carrying `payloads`; returns its id.
    private func sendChange(body: String?, payloads: [Element]) async throws -> String {
        let id = StanzaID.make()
        try await client.require().send(MessageChange.message(type: .groupchat, to: jid, id: id, body: body, payloads: payloads))
        return id
    }
}
