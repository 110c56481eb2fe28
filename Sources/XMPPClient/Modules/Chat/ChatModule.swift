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

    private let client = ClientReference()
    private let answersReceiptRequests: Bool
    // Messages and failures that arrive while nobody listens (offline messages during connect()) wait for the first
    // subscriber, up to a bound; receipts and chat states matter only live.
    private let incomingMessages = Broadcast<ChatMessage>(keepingWhileUnsubscribed: ChatModule.keptWhileUnsubscribed)
    private let incomingFailures = Broadcast<DeliveryFailure>(keepingWhileUnsubscribed: ChatModule.keptWhileUnsubscribed)
    private let incomingReceipts = Broadcast<DeliveryReceipt>()
    private let incomingChatStates = Broadcast<ChatStateUpdate>()

    /// How many messages (and failures) are kept for the first subscriber when they arrive before any; older ones
    /// beyond it are dropped from the stream (the local archive, if attached, still has them).
    public static let keptWhileUnsubscribed = 500

    /// Creates the module.
    /// - Parameter answersReceiptRequests: Whether to confirm received messages that ask for a receipt.
    public init(answersReceiptRequests: Bool = true) {
        self.answersReceiptRequests = answersReceiptRequests
    }

    /// Messages with a body (`chat` and `normal` types): incoming ones, and carbon copies of what the account's
    /// other clients sent (``ChatMessage/isOutgoing``). Room traffic is not here: room messages, private messages
    /// from occupants and invitations are ``MultiUserChatModule``'s. Messages that arrive while nobody is subscribed
    /// (the offline ones, during `connect()`) are handed to the first subscriber, up to ``keptWhileUnsubscribed``.
    public var messages: AsyncStream<ChatMessage> { incomingMessages.subscribe() }
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
    }

    /// Sends a chat message and returns its id once it has been written.
    /// - Parameters:
    ///   - body: The text.
    ///   - to: The recipient: a bare JID, or a full one to reach one resource.
    ///   - thread: The conversation thread, if any.
    ///   - requestReceipt: Whether to ask for a delivery receipt (XEP-0184).
    ///   - chatState: A chat state to send along; `active` is customary with a message.
    @discardableResult
    public func send(_ body: String, to: JID, thread: String? = nil, requestReceipt: Bool = true,
                     chatState: ChatState? = .active) async throws -> String {
        let id = StanzaID.make()
        var message = Message(type: .chat, to: to, id: id, body: body)
        if let thread { message.thread = thread }
        message.element.append(StanzaIdentifier(id: id).element)
        if requestReceipt { message.element.append(Element("request", namespace: Self.receiptsNamespace)) }
        if let chatState { message.element.append(Element(chatState.rawValue, namespace: ChatState.namespace)) }
        try await client.require().send(message)
        return id
    }

    /// Sends a standalone chat state notification (XEP-0085 §5.5), e.g. `composing` while the user types.
    public func send(_ chatState: ChatState, to: JID) async throws {
        var message = Message(type: .chat, to: to)
        message.element.append(Element(chatState.rawValue, namespace: ChatState.namespace))
        message.element.append(Element("no-store", namespace: "urn:xmpp:hints"))
        try await client.require().send(message)
    }

    /// Asks the server for carbons (XEP-0280), when the configuration wants them; a server without gets to say no.
    public func sessionStarted(client: XMPPClient) async {
        guard client.configuration.carbons else { return }
        _ = try? await client.query(Element("enable", namespace: Self.carbonsNamespace), type: .set)
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
            return false
        }
        guard message.type == .chat || message.type == .normal else { return false }
        if let received = stanza.child("received", namespace: Self.receiptsNamespace), let id = received.attribute("id") {
            incomingReceipts.publish(DeliveryReceipt(from: from, messageID: id))
        }
        let chatState = ChatState(message: stanza)
        if let chatState { incomingChatStates.publish(ChatStateUpdate(from: from, state: chatState)) }
        guard let body = message.body else { return false }
        let requestsReceipt = stanza.child("request", namespace: Self.receiptsNamespace) != nil
        if requestsReceipt, answersReceiptRequests, let id = message.id {
            // XEP-0184 §5.1: the receipt goes to the full JID that sent the message, and carries its id.
            var receipt = Message(type: message.type, to: from, id: StanzaID.make())
            receipt.element.append(Element("received", namespace: Self.receiptsNamespace, attributes: ["id": id]))
            client.enqueue(receipt.element)
        }
        var chat = ChatMessage(from: from, to: message.to ?? client.jid ?? from, id: message.id, body: body,
                               thread: message.thread, requestsReceipt: requestsReceipt, chatState: chatState, stanza: message)
        chat.archiveID = StanzaIdentifier.stanzaID(in: stanza, by: account)?.id
        if let stamp = Delay(in: stanza)?.stamp { (chat.timestamp, chat.isDelayed) = (stamp, true) }
        incomingMessages.publish(chat)
        return false
    }

    /// A carbon copy's message, as outgoing (sent by another client of the account) or incoming; its receipt
    /// request is the addressed client's to answer.
    private func publishCarbon(_ element: Element, sent: Bool, account: JID) {
        guard let message = Message(element: element), message.type == .chat || message.type == .normal, !Self.isRoomTraffic(element),
              let from = message.from ?? (sent ? account : nil), let to = message.to ?? (sent ? nil : account) else { return }
        if let chatState = ChatState(message: element), !sent { incomingChatStates.publish(ChatStateUpdate(from: from, state: chatState)) }
        guard let body = message.body else { return }
        var chat = ChatMessage(from: from, to: to, id: message.id, body: body, thread: message.thread,
                               requestsReceipt: false, chatState: ChatState(message: element), stanza: message)
        chat.isOutgoing = sent
        chat.isCarbonCopy = true
        chat.archiveID = StanzaIdentifier.stanzaID(in: element, by: account)?.id
        incomingMessages.publish(chat)
    }
}
