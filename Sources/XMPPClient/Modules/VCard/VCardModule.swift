import XMPPCore

/// vCards (XEP-0054): fetch anyone's, publish the user's own — XMPPFramework's vCard-temp module.
///
/// ```swift
/// let vcards = client.add(VCardModule())
/// var mine = try await vcards.fetch()
/// mine.fullName = "Juliet Capulet"
/// try await vcards.publish(mine)
/// ```
public final class VCardModule: XMPPClientModule {
    private let client = ClientReference()

    /// Creates the module.
    public init() {}

    public func attached(to client: XMPPClient) {
        self.client.set(client)
    }

    /// The vCard of `jid` (a bare JID), or the user's own when `nil`. A contact without one reads as empty.
    /// - Throws: ``XMPPClientError/stanzaError(_:)``, e.g. `item-not-found` or `service-unavailable`.
    public func fetch(_ jid: JID? = nil) async throws -> VCard {
        let payload = try await client.require().query(Element("vCard", namespace: VCard.namespace), to: jid?.bare)
        return payload.flatMap(VCard.init(element:)) ?? VCard()
    }

    /// The vCard of a chat room occupant, asked through the room at its room JID (`room@service/nick`): the room
    /// passes the request on without revealing anyone's real JID (XEP-0045), so it works in semi-anonymous rooms.
    /// - Throws: ``XMPPClientError/stanzaError(_:)``, e.g. `item-not-found` when nobody has that nickname.
    public func fetch(occupant: JID) async throws -> VCard {
        let payload = try await client.require().query(Element("vCard", namespace: VCard.namespace), to: occupant)
        return payload.flatMap(VCard.init(element:)) ?? VCard()
    }

    /// Replaces the user's own vCard.
    public func publish(_ vcard: VCard) async throws {
        try await client.require().query(vcard.element, type: .set)
    }
}
