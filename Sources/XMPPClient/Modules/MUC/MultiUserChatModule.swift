import Foundation
import XMPPCore

/// Multi-user chat (XEP-0045): finds chat services and their rooms, hands out ``ChatRoom``s, routes each room's
/// stanzas to it, and publishes invitations (mediated, and direct per XEP-0249). After a reconnection, or a removal
/// for a technical reason (status 333), it enters again the rooms this user was in, asking for the history missed
/// meanwhile.
///
/// ```swift
/// let muc = client.add(MultiUserChatModule())
/// try await client.connect()
/// let service = try await muc.findService()                     // conference.example.com
/// for listing in try await muc.rooms(on: service!) { print(listing.jid, listing.name ?? "") }
/// let room = muc.room(try JID("tea@conference.example.com"), nickname: "Alice")
/// try await room.join()
/// ```
public final class MultiUserChatModule: XMPPClientModule {
    private let client = ClientReference()
    private let rooms = Locked<[JID: ChatRoom]>([:])
    // Invitations that arrive before anyone listens (offline, during connect()) wait for the first subscriber.
    private let incomingInvitations = Broadcast<RoomInvitation>(keepingWhileUnsubscribed: 100)
    private let rejoinsAfterReconnection: Bool
    private let rejoinsAfterTechnicalRemoval: Bool
    private let roomsToRejoin = Locked<[JID: Date?]>([:])

    /// Creates the module.
    /// - Parameters:
    ///   - rejoinsAfterReconnection: Whether to enter the joined rooms again when a new session starts.
    ///   - rejoinsAfterTechnicalRemoval: Whether to enter a room again at once when it removed this user for a
    ///     technical reason (``RoomExit/technicalRemoval(reason:)``, status 333).
    public init(rejoinsAfterReconnection: Bool = true, rejoinsAfterTechnicalRemoval: Bool = true) {
        self.rejoinsAfterReconnection = rejoinsAfterReconnection
        self.rejoinsAfterTechnicalRemoval = rejoinsAfterTechnicalRemoval
    }

    /// Invitations to rooms, mediated or direct; those that arrive while nobody is subscribed (during `connect()`)
    /// are handed to the first subscriber, up to 100.
    public var invitations: AsyncStream<RoomInvitation> { incomingInvitations.subscribe() }

    public var discoFeatures: [String] { [MUCNamespace.muc, MUCNamespace.directInvitation] }

    public func attached(to client: XMPPClient) {
        self.client.set(client)
    }

    /// The room `jid` under `nickname`; the same object for the same room until it is forgotten.
    public func room(_ jid: JID, nickname: String) -> ChatRoom {
        rooms.withLock { rooms in
            if let room = rooms[jid.bare] { return room }
            let room = ChatRoom(jid: jid.bare, nickname: nickname, client: client)
            rooms[jid.bare] = room
            return room
        }
    }

    /// The rooms handed out, joined or not.
    public var knownRooms: [ChatRoom] { rooms.withLock { Array($0.values) } }

    /// The room `jid` when this user is in it or entering it.
    func activeRoom(_ jid: JID) -> ChatRoom? {
        guard let room = rooms.withLock({ $0[jid.bare] }), room.isJoined || room.isJoining else { return nil }
        return room
    }

    /// Forgets a room this user left; its stanzas are no longer routed.
    public func forget(_ room: ChatRoom) {
        _ = rooms.withLock { $0.removeValue(forKey: room.jid) }
    }

    /// The first chat service the server lists (disco#items of the domain, identity `conference/text`).
    public func findService() async throws -> JID? {
        let client = try client.require()
        guard let domain = client.jid?.domain else { throw XMPPClientError.notConnected }
        let items = try await client.query(Element("query", namespace: DiscoModule.itemsNamespace), to: domain)
        for item in items?.children("item", namespace: DiscoModule.itemsNamespace) ?? [] {
            guard let jid = item.attribute("jid").flatMap({ JID(validating: $0) }),
                  let info = try? await client.query(Element("query", namespace: DiscoModule.infoNamespace), to: jid) else { continue }
            let identities = info.children("identity", namespace: DiscoModule.infoNamespace)
            if identities.contains(where: { $0.attribute("category") == "conference" && $0.attribute("type") == "text" }) { return jid }
        }
        return nil
    }

    /// The public rooms of a chat service (XEP-0045 §6.3).
    public func rooms(on service: JID) async throws -> [RoomListing] {
        let answer = try await client.require().query(Element("query", namespace: DiscoModule.itemsNamespace), to: service)
        return (answer?.children("item", namespace: DiscoModule.itemsNamespace) ?? []).compactMap { item in
            item.attribute("jid").flatMap { JID(validating: $0) }.map { RoomListing(jid: $0, name: item.attribute("name")) }
        }
    }

    /// Declines a mediated invitation (XEP-0045 §7.8.2).
    public func decline(_ invitation: RoomInvitation, reason: String? = nil) async throws {
        guard let inviter = invitation.inviter else { return }
        var decline = Element("decline", namespace: MUCNamespace.user, attributes: ["to": inviter.description])
        if let reason { decline.append(Element("reason", namespace: MUCNamespace.user, text: reason)) }
        var message = Message(to: invitation.room)
        message.element.append(Element("x", namespace: MUCNamespace.user, children: [.element(decline)]))
        try await client.require().send(message)
    }

    // MARK: XMPPClientModule

    public func handle(_ stanza: Element, client: XMPPClient) -> Bool {
        guard stanza.name == "message" || stanza.name == "presence",
              let from = stanza.attribute("from").flatMap({ JID(validating: $0) }) else { return false }
        if stanza.name == "message", let invitation = Self.invitation(in: stanza, from: from) {
            incomingInvitations.publish(invitation)
            return false
        }
        guard let room = rooms.withLock({ $0[from.bare] }) else { return false }
        if case .technicalRemoval? = room.handle(stanza), rejoinsAfterTechnicalRemoval {
            // This client is still here; the room only thought it gone.
            let since = room.state.withLock { $0.lastMessageDate }
            Task { await Self.rejoin(room, since: since.map { $0.addingTimeInterval(0.001) }) }
        }
        return false
    }

    public func sessionEnded(client: XMPPClient, error: XMPPClientError?) {
        var rejoin: [JID: Date?] = [:]
        for room in knownRooms {
            if let last = room.connectionEnded() { rejoin[room.jid] = last }
        }
        // Failed reconnection attempts end sessions too: keep what earlier endings left to enter again.
        roomsToRejoin.withLock { pending in
            if rejoinsAfterReconnection && error != nil { pending.merge(rejoin) { earlier, _ in earlier } } else { pending = [:] }
        }
    }

    public func sessionStarted(client: XMPPClient) async {
        let pending = roomsToRejoin.withLock { pending in
            defer { pending = [:] }
            return pending
        }
        for (jid, last) in pending {
            guard let room = rooms.withLock({ $0[jid] }) else { continue }
            // Entering needs initial presence to be out first: do it beside the session start.
            Task { await Self.rejoin(room, since: last.map { $0.addingTimeInterval(0.001) }) }
        }
    }

    /// Enters `room` again after a reconnection and reports how it went as a room event. A temporary room that
    /// ended with the server is re-created by the first occupant back, who accepts the default settings so that the
    /// others can enter; until then the room answers `item-not-found` (locked), so that is tried again a few times.
    static func rejoin(_ room: ChatRoom, since: Date?, attempts: Int = 4, pause: Duration = .milliseconds(500)) async {
        for attempt in 1...attempts {
            do {
                try await room.join(password: room.state.withLock { $0.password }, history: RoomHistoryRequest(since: since))
                if room.wasCreated { try await room.acceptDefaultConfiguration() }
                room.publish(.rejoined)
                return
            } catch XMPPClientError.stanzaError(let error) where error.condition == .itemNotFound && attempt < attempts {
                try? await Task.sleep(for: pause * attempt)
            } catch {
                room.publish(.rejoinFailed(error as? XMPPClientError ?? .unexpectedResponse("\(error)")))
                return
            }
        }
    }

    private static func invitation(in stanza: Element, from: JID) -> RoomInvitation? {
        if let invite = stanza.child("x", namespace: MUCNamespace.user)?.child("invite", namespace: MUCNamespace.user) {
            let x = stanza.child("x", namespace: MUCNamespace.user)
            return RoomInvitation(room: from.bare, inviter: invite.attribute("from").flatMap { JID(validating: $0) },
                                  reason: invite.child("reason", namespace: MUCNamespace.user)?.text,
                                  password: x?.child("password", namespace: MUCNamespace.user)?.text, isDirect: false)
        }
        if let direct = stanza.child("x", namespace: MUCNamespace.directInvitation),
           let room = direct.attribute("jid").flatMap({ JID(validating: $0) }) {
            return RoomInvitation(room: room.bare, inviter: from, reason: direct.attribute("reason"),
                                  password: direct.attribute("password"), isDirect: true)
        }
        return nil
    }
}
