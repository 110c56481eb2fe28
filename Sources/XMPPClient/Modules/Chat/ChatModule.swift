import Foundation
import XMPPCore

/// One-to-one chat (RFC 6121 §5): send and receive `chat` messages, with delivery receipts (XEP-0184),
/// chat states (XEP-0085) and threads. Message carbons (XEP-0280) are asked for when the configuration says so
/// (the default): what the account's other clients send shows up in ``messages`` as outgoing, what they receive as
/// incoming, and a carbon copy from anyone but the account itself is ignored. Sent messages carry an origin id
/// (XEP-0359) equal to their id, so a recipient can drop a copy sent again after a lost connection.
///
/// ```swift
/// let chat = client.add(ChatModule())
/// let id = try await chat.send("Hello", to: romeo)                 // asks for a receipt
/// for await receipt in chat.receipts where receipt.messageID == id { print("delivered") }
/// for await message in chat.messages { print("\(message.from): \(message.body)") }
/// ```
public final class ChatModule: XMPPClientModule {
    /// The delivery receipts namespace.
    public static let receiptsNamespace = "urn:xmpp:receipts"

    let client = ClientReference()
    private let answersReceiptRequests: Bool
    /// Where messages sent while offline wait.
    public let outbox: any OutboxStorage
    /// The most messages the outbox holds; ``send(_:to:thread:requestReceipt:chatState:)`` refuses more.
    public let outboxLimit: Int
    let queuesWhileOffline: Bool
    let tracking = Locked(Tracking())
    let statusUpdates = Broadcast<DeliveryUpdate>()
    // Messages and failures that arrive while nobody listens (offline messages during connect()) wait for the first
    // subscriber, up to a bound; receipts and chat states matter only live.
    private let incomingMessages = Broadcast<ChatMessage>(keepingWhileUnsubscribed: ChatModule.keptWhileUnsubscribed)
    private let incomingFailures = Broadcast<DeliveryFailure>(keepingWhileUnsubscribed: ChatModule.keptWhileUnsubscribed)
    private let incomingChanges = Broadcast<MessageChangeEvent>(keepingWhileUnsubscribed: ChatModule.keptWhileUnsubscribed)
    private let incomingReceipts = Broadcast<DeliveryReceipt>()
    private let incomingChatStates = Broadcast<ChatStateUpdate>()

    /// How many messages (and failures) are kept for the first subscriber when they arrive before any; older ones
    /// beyond it are dropped from the stream (the local archive, if attached, still has them).
    public static let keptWhileUnsubscribed = 500

    /// Creates the module.
    /// - Parameters:
    ///   - answersReceiptRequests: Whether to confirm received messages that ask for a receipt.
    ///   - queuesWhileOffline: Whether a message sent without a session waits in the outbox for the next one
    ///     (otherwise sending throws ``XMPPClientError/notConnected``).
    ///   - outbox: Where those messages wait; `SQLiteMessageArchive` keeps them across launches.
    ///   - outboxLimit: The most messages that may wait.
    public init(answersReceiptRequests: Bool = true, queuesWhileOffline: Bool = true, outbox: any OutboxStorage = InMemoryOutbox(),
                outboxLimit: Int = 1000) {
        self.answersReceiptRequests = answersReceiptRequests
        self.queuesWhileOffline = queuesWhileOffline
        self.outbox = outbox
        self.outboxLimit = outboxLimit
    }

    /// Delivery statuses of the messages this client sent, as they move (queued, sent, acknowledged, delivered,
    /// read, failed).
    public var deliveryUpdates: AsyncStream<DeliveryUpdate> { statusUpdates.subscribe() }

    /// The latest status of a message sent in this process (the most recent ``trackedLimit`` are remembered).
    public func status(of messageID: String) -> DeliveryStatus? {
        tracking.withLock { $0.sent[messageID]?.status }
    }

    /// How many sent messages' statuses are remembered in memory (the archive keeps them all).
    public static let trackedLimit = 2000

    /// Messages with a body (`chat` and `normal` types): incoming ones, and carbon copies of what the account's
    /// other clients sent (``ChatMessage/isOutgoing``). Room traffic is not here: room messages, private messages
    /// from occupants and invitations are ``MultiUserChatModule``'s. Messages that arrive while nobody is subscribed
    /// (the offline ones, during `connect()`) are handed to the first subscriber, up to ``keptWhileUnsubscribed``.
    public var messages: AsyncStream<ChatMessage> { incomingMessages.subscribe() }
    /// Corrections (XEP-0308), retractions (XEP-0424) and reactions (XEP-0444) of earlier messages, by the peer or by
    /// the account's other clients; they are not in ``messages``. The archive applies them by itself.
    public var changes: AsyncStream<MessageChangeEvent> { incomingChanges.subscribe() }
    /// Messages this client sent that came back as errors, with the same keeping as ``messages``.
    public var failures: AsyncStream<DeliveryFailure> { incomingFailures.subscribe() }
    /// Delivery receipts for messages sent.
    public var receipts: AsyncStream<DeliveryReceipt> { incomingReceipts.subscribe() }
    /// Chat state notifications, standalone or carried by messages.
    public var chatStates: AsyncStream<ChatStateUpdate> { incomingChatStates.subscribe() }

    public var discoFeatures: [String] {
        answersReceiptRequests ? [Self.receiptsNamespace, ChatState.namespace] : [ChatState.namespace]
    }

    public func attached(to client: XMPPClient) {
        self.client.set(client)
        // The server's acknowledgements (XEP-0198) move sent messages to `acknowledged`.
        let acknowledged = client.acknowledgedStanzas
        Task { [weak self] in
            for await stanza in acknowledged {
                guard stanza.name == "message", let id = stanza.attribute("id") else { continue }
                self?.advance(id, to: .acknowledged)
            }
        }
        // Online again: what waits goes out (also when the flush at the session's start could not write yet).
        let states = client.states
        Task { [weak self] in
            for await state in states where state.isOnline { await self?.flushOutbox() }
        }
    }

    /// Sends a chat message and returns its id: once written when online, at once when it waits in the outbox for
    /// the next session (status ``DeliveryStatus/queued``; queued messages go out in order when a session starts).
    /// - Parameters:
    ///   - body: The text.
    ///   - to: The recipient: a bare JID, or a full one to reach one resource.
    ///   - thread: The conversation thread, if any.
    ///   - requestReceipt: Whether to ask for a delivery receipt (XEP-0184).
    ///   - chatState: A chat state to send along; `active` is customary with a message.
    @discardableResult
    public func send(_ body: String, to: JID, thread: String? = nil, requestReceipt: Bool = true,
                     chatState: ChatState? = .active) async throws -> String {
        try await send(body, to: to, thread: thread, requestReceipt: requestReceipt, chatState: chatState, payloads: [])
    }

    /// Sends a chat message carrying `payloads` too (a shared file's out-of-band data, ...); see
    /// ``send(_:to:thread:requestReceipt:chatState:)``.
    func send(_ body: String, to: JID, thread: String? = nil, requestReceipt: Bool = true, chatState: ChatState? = .active,
              payloads: [Element]) async throws -> String {
        let id = StanzaID.make()
        var message = Message(type: .chat, to: to, id: id, body: body)
        if let thread { message.thread = thread }
        for payload in payloads { message.element.append(payload) }
        message.element.append(StanzaIdentifier(id: id).element)
        if requestReceipt { message.element.append(Element("request", namespace: Self.receiptsNamespace)) }
        message.element.append(Element("markable", namespace: ChatMarkers.namespace))
        if let chatState { message.element.append(Element(chatState.rawValue, namespace: ChatState.namespace)) }
        try await deliver(message.element, id: id, to: to)
        return id
    }

    /// Sends a reply to `original` (XEP-0461): the text, with a reference to the message it answers.
    @discardableResult
    public func reply(_ body: String, to original: ChatMessage) async throws -> String {
        guard let originalID = StanzaIdentifier.originID(in: original.stanza.element)?.id ?? original.id else {
            throw XMPPClientError.unexpectedResponse("the message has no id to refer to")
        }
        let peer = original.isOutgoing ? original.to : original.from
        return try await sendChange(to: peer, body: body, payloads: [Element("reply", namespace: MessageChange.replyNamespace,
                                                                               attributes: ["to": original.from.description, "id": originalID])])
    }

    /// Replaces the text of a message this account sent (XEP-0308); `messageID` is what ``send(_:to:thread:requestReceipt:chatState:)`` returned.
    @discardableResult
    public func correct(_ messageID: String, to peer: JID, with body: String) async throws -> String {
        try await sendChange(to: peer, body: body, payloads: [MessageChange.correctionPayload(of: messageID)])
    }

    /// Takes back a message this account sent (XEP-0424). Clients without retraction show the fallback text.
    @discardableResult
    public func retract(_ messageID: String, to peer: JID) async throws -> String {
        try await sendChange(to: peer, body: MessageChange.retractionFallbackBody, payloads: MessageChange.retractionPayload(of: messageID))
    }

    /// Sets this account's reactions to message `messageID` of the conversation with `peer` (XEP-0444): the emoji
    /// given replace the earlier ones; none takes them away. In a room, ``ChatRoom/react(to:with:)`` does this.
    @discardableResult
    public func react(to messageID: String, with peer: JID, reactions: [String]) async throws -> String {
        try await sendChange(to: peer, body: nil, payloads: [MessageChange.reactionsPayload(to: messageID, reactions)])
    }

    /// Sends a message carrying `payloads`, through the outbox like any message; returns its id.
    private func sendChange(to peer: JID, body: String?, payloads: [Element]) async throws -> String {
        let id = StanzaID.make()
        let message = MessageChange.message(type: .chat, to: peer, id: id, body: body, payloads: payloads)
        try await deliver(message.element, id: id, to: peer)
        return id
    }

    /// Tells `message`'s sender that the user has seen it (XEP-0333 `displayed`), if the sender asked for markers.
    public func markDisplayed(_ message: ChatMessage) async throws {
        guard let id = message.id, !message.isOutgoing, message.stanza.element.child("markable", namespace: ChatMarkers.namespace) != nil else { return }
        var marker = Message(type: .chat, to: message.from)
        marker.element.append(Element("displayed", namespace: ChatMarkers.namespace, attributes: ["id": id]))
        marker.element.append(Element("store", namespace: "urn:xmpp:hints"))
        try await client.require().send(marker)
    }

    /// Sends a standalone chat state notification (XEP-0085 §5.5), e.g. `composing` while the user types.
    public func send(_ chatState: ChatState, to: JID) async throws {
        var message = Message(type: .chat, to: to)
        message.element.append(Element(chatState.rawValue, namespace: ChatState.namespace))
        message.element.append(Element("no-store", namespace: "urn:xmpp:hints"))
        try await client.require().send(message)
    }

    /// Asks the server for carbons (XEP-0280), when the configuration wants them (a server without gets to say no),
    /// then sends what waited in the outbox.
    public func sessionStarted(client: XMPPClient) async {
        // Beside the session start: the outbox may be long, and initial presence should not wait for it.
        Task { await self.flushOutbox() }
        if client.configuration.carbons {
            _ = try? await client.query(Element("enable", namespace: Self.carbonsNamespace), type: .set)
        }
    }

    /// A resumed session (XEP-0198) takes the outbox too.
    public func sessionResumed(client: XMPPClient) async {
        Task { await self.flushOutbox() }
    }

    /// The message carbons namespace (XEP-0280).
    public static let carbonsNamespace = "urn:xmpp:carbons:2"

    /// The message inside a carbon copy, and whether it was sent (rather than received) by the account; `nil` when
    /// `stanza` is not a carbon copy, or not one from the account's own bare JID (XEP-0280 §11: anyone else's is
    /// a forgery).
    static func unwrapCarbon(_ stanza: Element, account: JID) -> (message: Element, sent: Bool)? {
        guard stanza.name == "message" else { return nil }
        for direction in ["received", "sent"] {
            guard let wrapper = stanza.child(direction, namespace: carbonsNamespace) else { continue }
            guard stanza.attribute("from").flatMap({ JID(validating: $0) }) == account.bare,
                  let forwarded = wrapper.child("forwarded", namespace: Forwarded.namespace).flatMap(Forwarded.init(element:)),
                  forwarded.stanza.name == "message" else { return nil }
            return (forwarded.stanza, direction == "sent")
        }
        return nil
    }

    /// Whether `stanza` belongs to a chat room rather than a one-to-one conversation: it carries the room's
    /// `muc#user` payload (room messages to occupants, private messages, mediated invitations) or is a direct
    /// invitation (XEP-0249).
    public static func isRoomTraffic(_ stanza: Element) -> Bool {
        stanza.child("x", namespace: MUCNamespace.user) != nil || stanza.child("x", namespace: MUCNamespace.directInvitation) != nil
    }

    public func handle(_ stanza: Element, client: XMPPClient) -> Bool {
        let account = client.configuration.jid.bare
        if let carbon = Self.unwrapCarbon(stanza, account: account) {
            publishCarbon(carbon.message, sent: carbon.sent, account: account)
            return false
        }
        guard stanza.name == "message", let message = Message(element: stanza), let from = message.from,
              !Self.isRoomTraffic(stanza) else { return false }
        if message.type == .error {
            let error = stanza.child("error", namespace: stanza.namespace).flatMap(StanzaError.init(element:)) ?? StanzaError(.undefinedCondition)
            incomingFailures.publish(DeliveryFailure(to: from, messageID: message.id, error: error))
            if let id = message.id { advance(id, to: .failed(condition: error.condition.rawValue)) }
            return false
        }
        guard message.type == .chat || message.type == .normal else { return false }
        noteConfirmations(in: stanza, from: from)
        let chatState = ChatState(message: stanza)
        if let chatState { incomingChatStates.publish(ChatStateUpdate(from: from, state: chatState)) }
        if let (targetID, change) = MessageChange.parse(stanza, sender: from) {
            incomingChanges.publish(MessageChangeEvent(from: from, targetID: targetID, change: change, isOutgoing: false))
            return false
        }
        guard let body = message.body else { return false }
        let requestsReceipt = stanza.child("request", namespace: Self.receiptsNamespace) != nil
        // A copy the sender sent again (its session could not be resumed): confirmed again, shown once.
        let repeated = isRepeat(stanza, from: from)
        if requestsReceipt, answersReceiptRequests, let id = message.id {
            // XEP-0184 §5.1: the receipt goes to the full JID that sent the message, and carries its id.
            var receipt = Message(type: message.type, to: from, id: StanzaID.make())
            receipt.element.append(Element("received", namespace: Self.receiptsNamespace, attributes: ["id": id]))
            client.enqueue(receipt.element)
        }
        if repeated { return false }
        var chat = ChatMessage(from: from, to: message.to ?? client.jid ?? from, id: message.id, body: body,
                               thread: message.thread, requestsReceipt: requestsReceipt, chatState: chatState, stanza: message)
        chat.archiveID = StanzaIdentifier.stanzaID(in: stanza, by: account)?.id
        chat.replyTo = stanza.child("reply", namespace: MessageChange.replyNamespace)?.attribute("id")
        if let stamp = Delay(in: stanza)?.stamp { (chat.timestamp, chat.isDelayed) = (stamp, true) }
        incomingMessages.publish(chat)
        return false
    }

    /// How many incoming origin ids are remembered to drop copies sent again.
    static let seenLimit = 2000

    /// Whether `stanza` from `from` is a message seen already (the same sender and origin id); remembers it if not.
    private func isRepeat(_ stanza: Element, from: JID) -> Bool {
        guard let origin = StanzaIdentifier.originID(in: stanza)?.id else { return false }
        let key = "\(from.bare) \(origin)"
        return tracking.withLock { tracking in
            guard tracking.seen.insert(key).inserted else { return true }
            tracking.seenOrder.append(key)
            while tracking.seenOrder.count > Self.seenLimit { tracking.seen.remove(tracking.seenOrder.removeFirst()) }
            return false
        }
    }

    /// Receipts (XEP-0184) and chat markers (XEP-0333) for messages this client sent move them to delivered or read.
    private func noteConfirmations(in stanza: Element, from: JID) {
        if let received = stanza.child("received", namespace: Self.receiptsNamespace), let id = received.attribute("id") {
            incomingReceipts.publish(DeliveryReceipt(from: from, messageID: id))
            advance(id, to: .delivered)
        }
        if let marker = stanza.child(namespace: ChatMarkers.namespace), let id = marker.attribute("id") {
            switch marker.name {
            case "received": advance(id, to: .delivered)
            case "displayed", "acknowledged": advance(id, to: .read)
            default: break
            }
        }
    }

    /// A carbon copy's message, as outgoing (sent by another client of the account) or incoming; its receipt
    /// request is the addressed client's to answer.
    private func publishCarbon(_ element: Element, sent: Bool, account: JID) {
        guard let message = Message(element: element), message.type == .chat || message.type == .normal, !Self.isRoomTraffic(element),
              let from = message.from ?? (sent ? account : nil), let to = message.to ?? (sent ? nil : account) else { return }
        if let chatState = ChatState(message: element), !sent { incomingChatStates.publish(ChatStateUpdate(from: from, state: chatState)) }
        // A confirmation that reached another client of the account may be for a message this one sent.
        if !sent { noteConfirmations(in: element, from: from) }
        if let (targetID, change) = MessageChange.parse(element, sender: from) {
            incomingChanges.publish(MessageChangeEvent(from: from, targetID: targetID, change: change, isOutgoing: sent))
            return
        }
        guard let body = message.body, !isRepeat(element, from: from) else { return }
        var chat = ChatMessage(from: from, to: to, id: message.id, body: body, thread: message.thread,
                               requestsReceipt: false, chatState: ChatState(message: element), stanza: message)
        chat.isOutgoing = sent
        chat.isCarbonCopy = true
        chat.archiveID = StanzaIdentifier.stanzaID(in: element, by: account)?.id
        incomingMessages.publish(chat)
    }
}
