import Foundation
import XMPPCore

/// One multi-user chat room (XEP-0045) as this user sees it: the counterpart of XMPPFramework's `XMPPRoom`.
/// Get it from ``MultiUserChatModule/room(_:nickname:)``, subscribe to ``events``, then ``join(password:history:timeout:)``.
///
/// ```swift
/// let room = muc.room(try JID("tea@conference.example.com"), nickname: "Alice")
/// let events = room.events
/// try await room.join(history: .init(maxStanzas: 20))
/// if room.wasCreated { try await room.acceptDefaultConfiguration() }   // an instant room
/// try await room.send("Hello, room")
/// for await case .message(let message) in events { print("\(message.nickname ?? ""): \(message.body)") }
/// ```
public final class ChatRoom: Sendable {
    /// The room's bare JID.
    public let jid: JID
    let client: ClientReference
    let state: Locked<State>
    private let broadcast = Broadcast<RoomEvent>()

    enum Phase {
        case idle
        /// Entering: everyone waiting for the outcome of attempt `attempt`.
        case joining([CheckedContinuation<Void, any Error>], attempt: Int)
        case joined
    }

    struct State {
        var nickname: String
        var phase = Phase.idle
        var occupants: [String: RoomOccupant] = [:]
        var subject: String?
        var wasCreated = false
        var password: String?
        var lastMessageDate: Date?
        var attempts = 0
        /// The service removed this user because it was shutting down (332): enter again after reconnecting.
        var removedByShutdown = false
    }

    init(jid: JID, nickname: String, client: ClientReference) {
        self.jid = jid
        self.client = client
        state = Locked(State(nickname: nickname))
    }

    /// What happens in the room, from the moment of subscription.
    public var events: AsyncStream<RoomEvent> { broadcast.subscribe() }
    /// This user's nickname in the room.
    public var nickname: String { state.withLock { $0.nickname } }
    /// Whether this user is in the room.
    public var isJoined: Bool { state.withLock { if case .joined = $0.phase { true } else { false } } }
    /// Whether this user is entering the room (a ``join(password:history:timeout:)`` under way, or the automatic one
    /// after a reconnection).
    public var isJoining: Bool { state.withLock { if case .joining = $0.phase { true } else { false } } }
    /// Whether the room was created by this user's entry (status 201): configure it, or accept the defaults.
    public var wasCreated: Bool { state.withLock { $0.wasCreated } }
    /// The occupants, this user included, by nickname.
    public var occupants: [RoomOccupant] { state.withLock { $0.occupants.values.sorted { $0.nickname < $1.nickname } } }
    /// This user as an occupant (role and affiliation), once joined.
    public var me: RoomOccupant? { state.withLock { $0.occupants[$0.nickname] } }
    /// The current subject.
    public var subject: String? { state.withLock { $0.subject } }

    /// This user's JID in the room.
    public var occupantJID: JID { (try? jid.withResource(nickname)) ?? jid }

    // MARK: Entering and leaving

    /// Enters the room (creating it if it does not exist) and returns once the room has confirmed this user's entry.
    /// Idempotent: in the room already, it returns at once; while an entry is under way (the module's own after a
    /// reconnection, say), it waits for that one's outcome.
    /// - Throws: ``XMPPClientError/stanzaError(_:)`` with the room's refusal: `conflict` (nickname taken),
    ///   `not-authorized` (password), `registration-required` (members only), `forbidden` (banned),
    ///   `service-unavailable` (full), `item-not-found` (locked); `.timeout`.
    public func join(password: String? = nil, history: RoomHistoryRequest = .roomDefault, timeout: Duration = .seconds(15)) async throws {
        let client = try client.require()
        var x = Element("x", namespace: MUCNamespace.muc)
        if let history = history.element { x.append(history) }
        if let password { x.append(Element("password", namespace: MUCNamespace.muc, text: password)) }
        var presence = Presence(to: occupantJID)
        for module in client.modules { module.decorate(presence: &presence) }
        presence.element.append(x)
        let element = presence.element
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            enum Start { case new(Int), waiting, alreadyIn }
            let start = state.withLock { state -> Start in
                switch state.phase {
                case .joined:
                    return .alreadyIn
                case .joining(let waiters, let attempt):
                    state.phase = .joining(waiters + [continuation], attempt: attempt)
                    return .waiting
                case .idle:
                    state.attempts += 1
                    state.phase = .joining([continuation], attempt: state.attempts)
                    state.removedByShutdown = false
                    state.password = password
                    state.occupants = [:]
                    return .new(state.attempts)
                }
            }
            guard case .new(let attempt) = start else {
                if case .alreadyIn = start { continuation.resume() }
                return
            }
            Task {
                do { try await client.send(element) } catch { self.failJoin(error, attempt: attempt) }
            }
            Task {
                try? await Task.sleep(for: timeout)
                self.failJoin(XMPPClientError.timeout, attempt: attempt)
            }
        }
    }

    /// Leaves the room, with an optional status message; returns once the room has confirmed.
    public func leave(status: String? = nil) async throws {
        var presence = Presence(type: .unavailable, to: occupantJID)
        if let status { presence.element.append(Element("status", namespace: XMLNamespace.client, text: status)) }
        let exits = events
        try await client.require().send(presence)
        _ = await Self.first(exits, within: .seconds(10)) { if case .exited = $0 { true } else { false } }
    }

    /// Takes another nickname in the room (XEP-0045 §7.6); throws `conflict` if it is taken.
    public func changeNickname(to nickname: String) async throws {
        let target = try jid.withResource(nickname)
        let updates = events
        try await client.require().send(Presence(to: target))
        let outcome = await Self.first(updates, within: .seconds(10)) { event in
            switch event {
            case .occupantJoined(let occupant): occupant.isSelf && occupant.nickname == nickname
            case .messageRefused: true
            default: false
            }
        }
        if case .messageRefused(let error)? = outcome { throw XMPPClientError.stanzaError(error) }
        if outcome == nil { throw XMPPClientError.timeout }
    }

    /// Changes this user's availability as the room's occupants see it.
    public func setPresence(show: Presence.Show? = nil, status: String? = nil) async throws {
        var presence = Presence(to: occupantJID)
        if let show { presence.element.append(Element("show", namespace: XMLNamespace.client, text: show.rawValue)) }
        if let status { presence.element.append(Element("status", namespace: XMLNamespace.client, text: status)) }
        try await client.require().send(presence)
    }

    // MARK: Talking

    /// Sends a message to everyone in the room; returns its id (also its origin id, XEP-0359). The room reflects it
    /// back as a ``RoomEvent/message(_:)``.
    @discardableResult
    public func send(_ body: String) async throws -> String {
        let id = StanzaID.make()
        var message = Message(type: .groupchat, to: jid, id: id, body: body)
        message.element.append(StanzaIdentifier(id: id).element)
        try await client.require().send(message)
        return id
    }

    /// Sends a private message to one occupant (XEP-0045 §7.5).
    @discardableResult
    public func sendPrivate(_ body: String, to nickname: String) async throws -> String {
        let id = StanzaID.make()
        var message = Message(type: .chat, to: try jid.withResource(nickname), id: id, body: body)
        message.element.append(Element("x", namespace: MUCNamespace.user))
        try await client.require().send(message)
        return id
    }

    /// Changes the subject (moderators, or participants where the room allows it).
    public func changeSubject(to subject: String) async throws {
        var message = Message(type: .groupchat, to: jid)
        message.element.append(Element("subject", namespace: XMLNamespace.client, text: subject))
        try await client.require().send(message)
    }

    /// Asks the moderators for voice, as a visitor in a moderated room (XEP-0045 §7.13). A moderator sees
    /// ``RoomEvent/voiceRequested(nickname:jid:)`` and answers with ``grantVoice(to:reason:)``.
    public func requestVoice() async throws {
        var form = DataForm(type: .submit, formType: MUCNamespace.request)
        form.setValues([RoomRole.participant.rawValue], for: "muc#role", type: .listSingle)
        var message = Message(to: jid)
        message.element.append(form.element)
        try await client.require().send(message)
    }

    /// Invites someone through the room (XEP-0045 §7.8.2); in a members-only room this makes them a member
    /// when this user may.
    public func invite(_ invitee: JID, reason: String? = nil) async throws {
        var invite = Element("invite", namespace: MUCNamespace.user, attributes: ["to": invitee.description])
        if let reason { invite.append(Element("reason", namespace: MUCNamespace.user, text: reason)) }
        var message = Message(to: jid)
        message.element.append(Element("x", namespace: MUCNamespace.user, children: [.element(invite)]))
        try await client.require().send(message)
    }

    /// Invites someone directly (XEP-0249): the invitation goes from this user to theirs, with the password.
    public func inviteDirectly(_ invitee: JID, reason: String? = nil) async throws {
        var x = Element("x", namespace: MUCNamespace.directInvitation, attributes: ["jid": jid.description])
        x.setAttribute("reason", to: reason)
        x.setAttribute("password", to: state.withLock { $0.password })
        var message = Message(to: invitee)
        message.element.append(x)
        try await client.require().send(message)
    }

    // MARK: Helpers

    /// Ends a join attempt with `error`, if it is still under way (`attempt` nil: whichever is).
    func failJoin(_ error: any Error, attempt: Int? = nil) {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            guard case .joining(let waiters, let current) = state.phase, attempt == nil || attempt == current else { return [] }
            state.phase = .idle
            return waiters
        }
        for waiter in waiters { waiter.resume(throwing: error) }
    }

    func publish(_ event: RoomEvent) {
        broadcast.publish(event)
    }

    /// The first event of `stream` (subscribed with ``events`` before acting) matching `predicate`, or `nil`
    /// after `duration`.
    public static func first(_ stream: AsyncStream<RoomEvent>, within duration: Duration,
                      where predicate: @escaping @Sendable (RoomEvent) -> Bool) async -> RoomEvent? {
        await withTaskGroup(of: RoomEvent?.self) { group in
            group.addTask {
                for await event in stream where predicate(event) { return event }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: duration)
                return nil
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    /// Whether this user was in the room when the connection ended, or was removed by a shutdown just before, with
    /// the date of the last message seen; forgets the occupants.
    func connectionEnded() -> Date?? {
        typealias Ending = (wasJoined: Bool, rejoin: Bool, waiters: [CheckedContinuation<Void, any Error>], last: Date?)
        let ending = state.withLock { state -> Ending in
            defer { state.phase = .idle; state.occupants = [:]; state.removedByShutdown = false }
            switch state.phase {
            case .joined: return (true, true, [], state.lastMessageDate)
            case .joining(let waiters, _): return (false, false, waiters, nil)
            // A shutdown already announced the exit; enter again like a room the connection dropped.
            case .idle: return (false, state.removedByShutdown, [], state.lastMessageDate)
            }
        }
        for waiter in ending.waiters { waiter.resume(throwing: XMPPClientError.notConnected) }
        if ending.wasJoined { publish(.exited(.disconnected)) }
        return ending.rejoin ? .some(ending.last) : nil
    }
}
