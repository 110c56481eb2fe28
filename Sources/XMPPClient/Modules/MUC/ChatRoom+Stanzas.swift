import Foundation
import XMPPCore

// What the room sends: occupant presence with status codes (XEP-0045 §15.6.2), groupchat and private
// messages, the subject, configuration notices and errors.
extension ChatRoom {
    /// Handles a stanza from the room or one of its occupants; returns why this user is out of the room, when the
    /// stanza says so.
    @discardableResult
    func handle(_ stanza: Element) -> RoomExit? {
        switch stanza.name {
        case "presence": return handlePresence(stanza)
        case "message": handleMessage(stanza)
        default: break
        }
        return nil
    }

    private func handlePresence(_ stanza: Element) -> RoomExit? {
        guard let from = stanza.attribute("from").flatMap({ JID(validating: $0) }), let nickname = from.resourcepart else { return nil }
        let type = stanza.attribute("type")
        if type == "error" {
            let error = StanzaError(element: stanza.child("error", namespace: stanza.namespace) ?? stanza) ?? StanzaError(.undefinedCondition)
            let wasJoining = state.withLock { if case .joining = $0.phase { true } else { false } }
            if wasJoining { failJoin(XMPPClientError.stanzaError(error)) } else { publish(.messageRefused(error)) }
            return nil
        }
        let x = stanza.child("x", namespace: MUCNamespace.user)
        let item = x?.child("item", namespace: MUCNamespace.user)
        let codes = Set(x?.children("status", namespace: MUCNamespace.user).compactMap { $0.attribute("code").flatMap(Int.init) } ?? [])
        let isSelf = codes.contains(110) || state.withLock { $0.nickname == nickname && !codes.contains(303) }
        let occupant = RoomOccupant(
            nickname: nickname, realJID: item?.attribute("jid").flatMap { JID(validating: $0) },
            affiliation: item?.attribute("affiliation").flatMap(RoomAffiliation.init) ?? .none,
            role: item?.attribute("role").flatMap(RoomRole.init) ?? .none,
            show: stanza.child("show", namespace: stanza.namespace).flatMap { Presence.Show(rawValue: $0.text) },
            status: stanza.child("status", namespace: stanza.namespace)?.text, isSelf: isSelf)

        if type == "unavailable" {
            let exit = Self.exit(codes: codes, x: x, item: item)
            let known = state.withLock { state -> RoomOccupant? in
                let known = state.occupants.removeValue(forKey: nickname)
                if isSelf, case .nicknameChanged(let newNickname) = exit { state.nickname = newNickname }
                return known
            }
            publish(.occupantLeft(known ?? occupant, exit))
            guard isSelf else { return nil }
            if case .nicknameChanged = exit { return nil }
            state.withLock { state in
                state.phase = .idle
                state.occupants = [:]
                state.removedByShutdown = exit == .serviceShutdown
            }
            publish(.exited(exit))
            return exit
        }
        let (isNew, waiters) = state.withLock { state -> (Bool, [CheckedContinuation<Void, any Error>]?) in
            let isNew = state.occupants.updateValue(occupant, forKey: nickname) == nil
            guard isSelf, case .joining(let waiters, _) = state.phase else { return (isNew, nil) }
            state.phase = .joined
            state.wasCreated = codes.contains(201)
            return (isNew, waiters)
        }
        // Entered: an archive beside the room reads the room's own archive from where the store is now, before the
        // discussion history that follows is stored (a room this entry created has none yet).
        if waiters != nil, !codes.contains(201) { client.value?.module(MessageArchiveModule.self)?.roomEntered(self) }
        publish(isNew ? .occupantJoined(occupant) : .occupantChanged(occupant))
        for waiter in waiters ?? [] { waiter.resume() }
        return nil
    }

    private static func exit(codes: Set<Int>, x: Element?, item: Element?) -> RoomExit {
        let actor = item?.child("actor", namespace: MUCNamespace.user)?.attribute("nick")
        let reason = item?.child("reason", namespace: MUCNamespace.user)?.text
        if let destroy = x?.child("destroy", namespace: MUCNamespace.user) {
            return .roomDestroyed(reason: destroy.child("reason", namespace: MUCNamespace.user)?.text,
                                  alternate: destroy.attribute("jid").flatMap { JID(validating: $0) })
        }
        if codes.contains(303), let nickname = item?.attribute("nick") { return .nicknameChanged(to: nickname) }
        // Before 307: a technical removal comes with a kick's code for clients that do not know 333.
        if codes.contains(333) { return .technicalRemoval(reason: reason) }
        if codes.contains(301) { return .banned(by: actor, reason: reason) }
        if codes.contains(307) { return .kicked(by: actor, reason: reason) }
        if codes.contains(332) { return .serviceShutdown }
        if codes.contains(321) || codes.contains(322) { return .removed(reason: reason) }
        return .left
    }

    private func handleMessage(_ stanza: Element) {
        guard let from = stanza.attribute("from").flatMap({ JID(validating: $0) }), let message = Message(element: stanza) else { return }
        if message.type == .error {
            publish(.messageRefused(message.error ?? StanzaError(.undefinedCondition)))
            return
        }
        let x = stanza.child("x", namespace: MUCNamespace.user)
        if message.type == .groupchat, message.body == nil, let subject = message.subject {
            state.withLock { $0.subject = subject }
            publish(.subject(subject, nickname: from.resourcepart))
            return
        }
        if message.type == .groupchat, message.body == nil, let x {
            let codes = x.children("status", namespace: MUCNamespace.user).compactMap { $0.attribute("code").flatMap(Int.init) }
            if !codes.isEmpty { publish(.configurationChanged(statusCodes: codes)) }
            return
        }
        if from.resourcepart == nil, let x = stanza.child("x", namespace: DataForm.namespace), let form = DataForm(element: x),
           form.formType == MUCNamespace.request, let nickname = form.value(of: "muc#roomnick") {
            publish(.voiceRequested(nickname: nickname, jid: form.value(of: "muc#jid").flatMap { JID(validating: $0) }))
            return
        }
        if message.type == .groupchat, let nickname = from.resourcepart, let (targetID, parsed) = MessageChange.parse(stanza, sender: from) {
            var change = parsed
            // In a room the reactor is the occupant.
            if case .reactions(_, let emoji) = change { change = .reactions(reactor: from, emoji) }
            let isOwn = state.withLock { $0.nickname == nickname }
            publish(.messageChanged(MessageChangeEvent(from: from, targetID: targetID, change: change, isOutgoing: isOwn)))
            return
        }
        guard let body = message.body else { return }
        let delay = Delay(in: stanza)
        let isHistory = message.type == .groupchat && delay?.from == jid
        let date = delay?.stamp
        let stanzaID = StanzaIdentifier.stanzaID(in: stanza, by: jid)?.id
        let roomMessage = RoomMessage(nickname: from.resourcepart, body: body, id: message.id, stanzaID: stanzaID,
                                      date: date, isHistory: isHistory, stanza: stanza)
        if message.type == .groupchat {
            state.withLock { $0.lastMessageDate = date ?? Date() }
            publish(.message(roomMessage))
        } else if from.resourcepart != nil {
            publish(.privateMessage(roomMessage))
        }
    }
}
