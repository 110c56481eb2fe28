import XMPPCore

/// Private XML storage (XEP-0049): each account keeps XML documents, one per namespace, that only it can read
/// (XEP-0048 bookmarks and client settings in old clients). Bounded in size and in the number of namespaces.
public struct PrivateStorageModule: ServerModule {
    public let name = "private"
    public let specifications = ["XEP-0049 1.2"]
    /// `jabber:iq:private`.
    public static let namespace = "jabber:iq:private"

    /// `private_max_bytes`: the largest document.
    public static let maxBytes = ConfigOption.integer(
        "private_max_bytes", default: 65_536, range: 256...16_777_216,
        "largest private XML document (XEP-0049) in bytes; a larger one gets not-acceptable")
    /// `private_max_namespaces`: documents per account.
    public static let maxNamespaces = ConfigOption.integer(
        "private_max_namespaces", default: 64, range: 1...10_000,
        "most private XML documents (namespaces) one account keeps; one more gets resource-constraint")
    public var options: [ConfigOption] { [Self.maxBytes, Self.maxNamespaces] }

    /// The per-user key a namespace's document is stored under.
    public static func storageKey(for namespace: String) -> String { "private:" + namespace }

    /// Creates the module.
    public init() {}

    public func activate(in host: ModuleHost) {
        let maxBytes: Int = host.option(Self.maxBytes)
        let maxNamespaces: Int = host.option(Self.maxNamespaces)
        let editor = SerialEditor()
        host.addAccountFeature(Self.namespace)
        host.handleIQ(Self.namespace, for: [.ownAccount]) { request in
            let store = request.kernel.storage.userData
            let user = request.senderUsername
            let documents = Array(request.payload.elements)
            // Exactly one child, in a namespace of its own (XEP-0049 §3: never jabber:* ones).
            guard documents.count == 1, let document = documents.first, !document.namespace.isEmpty,
                  !document.namespace.hasPrefix("jabber:"), !document.namespace.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
                throw StanzaError(.notAcceptable, text: "one element, in a namespace of its own")
            }
            let key = Self.storageKey(for: document.namespace)
            if request.iq.type == .get {
                guard let bytes = try await store.value(key, of: user),
                      let stored = try? Element(xml: String(decoding: bytes, as: UTF8.self)) else {
                    return IQReply(Element("query", namespace: Self.namespace).appending(Element(document.name, namespace: document.namespace)))
                }
                return IQReply(Element("query", namespace: Self.namespace).appending(stored))
            }
            let serialized = document.xmlString
            guard serialized.utf8.count <= maxBytes else {
                throw StanzaError(.notAcceptable, text: "private documents are at most \(maxBytes) bytes")
            }
            // One edit at a time: two sessions adding namespaces at once must both be counted.
            try await editor.edit {
                var index = try await Self.storedNamespaces(of: user, in: store)
                if !index.contains(document.namespace) {
                    guard index.count < maxNamespaces else { throw StanzaError(.resourceConstraint, text: "at most \(maxNamespaces) private documents") }
                    index.append(document.namespace)
                    try await store.setValue(Array(index.joined(separator: "\n").utf8), for: Self.indexKey, of: user)
                }
                try await store.setValue(Array(serialized.utf8), for: key, of: user)
            }
            return IQReply()
        }
    }

    /// The namespaces an account keeps documents for, one per line under this key (the per-user store lists no
    /// keys by prefix): what the limit counts.
    static let indexKey = "private-index"

    static func storedNamespaces(of user: String, in store: any UserDataStore) async throws -> [String] {
        guard let bytes = try await store.value(indexKey, of: user) else { return [] }
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
    }
}
