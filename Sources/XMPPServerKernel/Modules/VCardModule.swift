import XMPPCore

/// vcard-temp (XEP-0054): each account's vCard, read by anyone, written by its owner, bounded in size.
/// Avatar hashes of XEP-0153 ride on presence, which the server passes through unchanged.
public struct VCardModule: ServerModule {
    public let name = "vcard"
    public let specifications = ["XEP-0054 1.2", "XEP-0153 1.1"]
    /// The `vcard-temp` namespace.
    public static let namespace = "vcard-temp"

    /// Creates the module.
    public init() {}

    public func activate(in host: ModuleHost) {
        let maxBytes = host.configuration.maxVCardBytes
        host.addServerFeature(Self.namespace)
        host.handleIQ(Self.namespace, for: [.account]) { request in
            let store = request.kernel.storage.userData
            guard let owner = request.to.localpart else { throw StanzaError(.serviceUnavailable) }
            if request.iq.type == .get {
                guard let bytes = try await store.value("vcard", of: owner) else {
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
            try await store.setValue(Array(serialized.utf8), for: "vcard", of: owner)
            return IQReply()
        }
    }
}
