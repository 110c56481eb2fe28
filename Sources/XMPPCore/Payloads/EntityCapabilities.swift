/// Namespaces of service discovery (XEP-0030).
public enum DiscoNamespace {
    /// `http://jabber.org/protocol/disco#info`.
    public static let info = "http://jabber.org/protocol/disco#info"
    /// `http://jabber.org/protocol/disco#items`.
    public static let items = "http://jabber.org/protocol/disco#items"
}

/// A disco identity (XEP-0030 §3.1): what kind of entity answers.
public struct DiscoIdentity: Sendable, Hashable {
    /// The category, such as `server`, `client` or `conference`.
    public var category: String
    /// The type within the category, such as `im`, `pc` or `text`.
    public var type: String
    /// A human-readable name.
    public var name: String?
    /// The language of the name (`xml:lang`).
    public var language: String?

    /// Creates an identity.
    public init(category: String, type: String, name: String? = nil, language: String? = nil) {
        self.category = category
        self.type = type
        self.name = name
        self.language = language
    }

    /// Reads an `<identity/>` of a disco#info answer.
    public init(element: Element) {
        self.init(category: element.attribute("category") ?? "", type: element.attribute("type") ?? "",
                  name: element.attribute("name"), language: element.attribute("lang", namespace: XMLNamespace.xml))
    }

    /// The `<identity/>` element.
    public var element: Element {
        var element = Element("identity", namespace: DiscoNamespace.info, attributes: ["category": category, "type": type])
        element.setAttribute("name", to: name)
        if let language { element.setAttribute("lang", namespace: XMLNamespace.xml, to: language) }
        return element
    }
}

/// Entity capabilities (XEP-0115): the verification string that stands for an entity's identities and features.
public enum EntityCapabilities {
    /// `http://jabber.org/protocol/caps`.
    public static let namespace = "http://jabber.org/protocol/caps"

    /// The XEP-0115 §5.1 verification string with SHA-1: identities sorted by category, type and language, then
    /// features, then the extended information forms (XEP-0128) by FORM_TYPE with their fields by name and values
    /// sorted, each compared octet by octet (i;octet), joined with `<`, hashed and base64-encoded.
    public static func verification(identities: [DiscoIdentity], features: some Sequence<String>, forms: [DataForm] = []) -> String {
        func precedes(_ a: String, _ b: String) -> Bool { Array(a.utf8).lexicographicallyPrecedes(Array(b.utf8)) }
        let sortedIdentities = identities.sorted { a, b in
            if a.category != b.category { return precedes(a.category, b.category) }
            if a.type != b.type { return precedes(a.type, b.type) }
            if (a.language ?? "") != (b.language ?? "") { return precedes(a.language ?? "", b.language ?? "") }
            return precedes(a.name ?? "", b.name ?? "")
        }
        var input = ""
        for identity in sortedIdentities {
            input += "\(identity.category)/\(identity.type)/\(identity.language ?? "")/\(identity.name ?? "")<"
        }
        for feature in Set(features).sorted(by: precedes) { input += feature + "<" }
        for form in forms.sorted(by: { precedes($0.formType ?? "", $1.formType ?? "") }) {
            input += (form.formType ?? "") + "<"
            let fields = form.fields.filter { $0.variable != "FORM_TYPE" && $0.variable != nil }
            for field in fields.sorted(by: { precedes($0.variable!, $1.variable!) }) {
                input += field.variable! + "<"
                for value in field.values.sorted(by: precedes) { input += value + "<" }
            }
        }
        return Base64.encode(SCRAMHash.sha1.hash(Array(input.utf8)))
    }
}
