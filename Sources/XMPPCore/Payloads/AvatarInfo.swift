import Crypto

/// What XEP-0084 metadata says of an avatar: its id (the SHA-1 of its bytes, in hex), type, size and dimensions.
/// The same id is the XEP-0153 photo hash, so both kinds of avatar name an image the same way.
public struct AvatarInfo: Sendable, Hashable {
    /// The XEP-0084 metadata namespace.
    public static let metadataNamespace = "urn:xmpp:avatar:metadata"
    /// The XEP-0084 data namespace.
    public static let dataNamespace = "urn:xmpp:avatar:data"

    /// The lowercase hex SHA-1 of the image bytes.
    public var id: String
    /// The MIME type, such as `image/png`.
    public var type: String
    /// The size in bytes.
    public var bytes: Int
    /// The width in pixels, when known.
    public var width: Int?
    /// The height in pixels, when known.
    public var height: Int?

    /// Creates the metadata of an image.
    public init(id: String, type: String, bytes: Int, width: Int? = nil, height: Int? = nil) {
        self.id = id
        self.type = type
        self.bytes = bytes
        self.width = width
        self.height = height
    }

    /// Describes `image`, computing its id.
    public init(image: [UInt8], type: String, width: Int? = nil, height: Int? = nil) {
        self.init(id: Self.hash(of: image), type: type, bytes: image.count, width: width, height: height)
    }

    /// The lowercase hex SHA-1 of `image`: a XEP-0084 id and a XEP-0153 photo hash.
    public static func hash(of image: [UInt8]) -> String {
        Insecure.SHA1.hash(data: image).hexString
    }

    /// Reads the first `<info/>` of a `<metadata/>` payload; `nil` when there is none (the avatar was removed).
    public init?(metadata: Element) {
        guard metadata.name == "metadata", metadata.namespace == Self.metadataNamespace,
              let info = metadata.child("info"), let id = info.attribute("id"), let type = info.attribute("type"),
              let bytes = info.attribute("bytes").flatMap(Int.init) else { return nil }
        self.init(id: id, type: type, bytes: bytes, width: info.attribute("width").flatMap(Int.init),
                  height: info.attribute("height").flatMap(Int.init))
    }

    /// The `<metadata/>` payload with this avatar as its only `<info/>`.
    public var metadata: Element {
        var info = Element("info", namespace: Self.metadataNamespace, attributes: ["bytes": String(bytes), "id": id, "type": type])
        if let width { info.attributes.append(.init(name: "width", value: String(width))) }
        if let height { info.attributes.append(.init(name: "height", value: String(height))) }
        return Element("metadata", namespace: Self.metadataNamespace, children: [.element(info)])
    }

    /// The empty `<metadata/>` that says the user has no avatar.
    public static var noAvatar: Element { Element("metadata", namespace: metadataNamespace) }

    /// The `<data/>` payload carrying `image`.
    public static func data(_ image: [UInt8]) -> Element {
        Element("data", namespace: dataNamespace, text: Base64.encode(image))
    }
}
