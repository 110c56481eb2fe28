import XMPPCore

/// vcard-temp (XEP-0054): each account's vCard, read by anyone, written by its owner, bounded in size.
/// Avatar hashes of XEP-0153 ride on presence, which the server passes through unchanged.
public struct VCardModule: ServerModule {
    public let name = "vcard"
    public let specifications = ["XEP-0054 1.2", "XEP-0153 1.1"]
    /// The `vcard-temp` namespace.
    public static let namespace = "vcard-temp"

    /// `max_vcard_bytes`: the largest vCard accepted.
    public static let maxBytes = ConfigOption.integer(
        "max_vcard_bytes", default: 131_072, range: 256...16_777_216,
        "largest vCard accepted, in bytes of XML; a larger one gets not-acceptable")
    public var options: [ConfigOption] { [Self.maxBytes] }
    /// The per-user document the vCard is stored under.
    public static let storageKey = "vcard"

    /// Creates the module.
    public init() {}

    public func activate(in host: ModuleHost) {
        let maxBytes: Int = host.option(Self.maxBytes)
        host.addServerFeature(Self.namespace)
        host.onAccountDeleted { user, kernel in
            try await kernel.storage.userData.setValue(nil, for: Self.storageKey, of: user)
        }
        host.handleIQ(Self.namespace, for: .anyAccount) { request in
            let store = request.kernel.storage.userData
            guard let owner = request.to.localpart else { throw StanzaError(.serviceUnavailable) }
            if request.iq.type == .get {
                guard let bytes = try await store.value(Self.storageKey, of: owner) else {
                    return IQReply(Element("vCard", namespace: Self.namespace))
                }
                return IQReply(try Element(xml: String(decoding: bytes, as: UTF8.self)))
            }
            guard request.isFromOwner else { throw StanzaError(.forbidden, text: "only the owner may change a vCard") }
            let vCard = request.payload
            guard vCard.name == "vCard" else { throw StanzaError(.badRequest) }
            let serialized = vCard.xmlString
            guard serialized.utf8.count <= maxBytes else {
                throw StanzaError(.notAcceptable, text: "the vCard is larger than \(maxBytes) bytes")
            }
            try await store.setValue(Array(serialized.utf8), for: Self.storageKey, of: owner)
            return IQReply()
        }
    }
}
