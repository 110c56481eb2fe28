import XMPPCore

/// A feature attached to an ``XMPPClient``: every module is created with its options, attached with
/// ``XMPPClient/add(_:)``, and then offers async calls and event streams of its own.
///
/// ```swift
/// let client = XMPPClient(configuration: configuration)
/// let roster = client.add(RosterModule())
/// let chat = client.add(ChatModule())
/// try await client.connect()
/// for await message in chat.messages { print(message.from, message.body) }
/// ```
///
/// Every requirement has a default that does nothing, so a module implements only what it needs.
public protocol XMPPClientModule: AnyObject, Sendable {
    /// Called once, when the module is added to `client`. Keep the client weakly.
    func attached(to client: XMPPClient)
    /// Sees each incoming stanza first, on the connection's event loop; keep it short. Return `true` when
    /// the module answered an IQ request, so the client does not answer `service-unavailable` itself.
    func handle(_ stanza: Element, client: XMPPClient) -> Bool
    /// The session is bound; runs before initial presence goes out (the roster is fetched here, as RFC 6121
    /// §2.2 suggests). Requests may be sent.
    func sessionStarted(client: XMPPClient) async
    /// A dropped connection resumed the session (XEP-0198): the server kept presence, subscriptions and rooms, and
    /// re-sent what this client had not acknowledged. By default the module starts again as for a new session.
    func sessionResumed(client: XMPPClient) async
    /// The session ended; `error` is `nil` after ``XMPPClient/disconnect()``.
    func sessionEnded(client: XMPPClient, error: XMPPClientError?)
    /// Adds to the client's own broadcast presence (capabilities, avatar hash, show and status).
    func decorate(presence: inout Presence)
    /// A stanza the client has just sent.
    func didSend(_ stanza: Element, client: XMPPClient)
    /// A message this client sent moved to a new delivery status (``ChatModule`` tracks them); `stanza` is the
    /// message itself when the update comes with it (queued, sent).
    func deliveryStatusChanged(_ update: DeliveryUpdate, stanza: Element?, client: XMPPClient)
    /// Features this module answers for, announced in service discovery (XEP-0030) and capabilities.
    var discoFeatures: [String] { get }
}

extension XMPPClientModule {
    public func attached(to client: XMPPClient) {}
    public func handle(_ stanza: Element, client: XMPPClient) -> Bool { false }
    public func sessionStarted(client: XMPPClient) async {}
    public func sessionResumed(client: XMPPClient) async { await sessionStarted(client: client) }
    public func sessionEnded(client: XMPPClient, error: XMPPClientError?) {}
    public func decorate(presence: inout Presence) {}
    public func didSend(_ stanza: Element, client: XMPPClient) {}
    public func deliveryStatusChanged(_ update: DeliveryUpdate, stanza: Element?, client: XMPPClient) {}
    public var discoFeatures: [String] { [] }
}
